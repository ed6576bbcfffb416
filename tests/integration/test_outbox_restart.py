"""An alert pending in the outbox survives kill -9: the webhook receiver is down
while gotel alerts, gotel is killed with SIGKILL, restarted on the same data,
the receiver comes up, and the alert is delivered (with its dedup key)."""

import http.server
import json
import socket
import threading
import time
import unittest

from gotel_harness import GotelTestCase, HOST, free_port, wait_until


class PortReceiver:
    """A webhook receiver on a given port (so it can be 'down' first, 'up' later)."""

    def __init__(self, port):
        self.bodies = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    receiver.bodies.append(json.loads(raw.decode("utf-8")))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.send_header("Connection", "close")
                self.end_headers()

            def log_message(self, *args):
                pass

        http.server.ThreadingHTTPServer.allow_reuse_address = True
        self.server = http.server.ThreadingHTTPServer((HOST, port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def late(self, app):
        with self.lock:
            return [b for b in self.bodies if b.get("event") == "late" and b.get("app") == app]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class OutboxRestartTest(GotelTestCase):
    def test_pending_alert_is_delivered_after_kill_9_and_restart(self):
        port = free_port()  # nothing listens here yet: the receiver is down
        env = {"GOTEL_WEBHOOK_URL": "http://%s:%d/hook" % (HOST, port)}
        args = ["--set", "alerts.retry_initial_ms=200", "--set", "alerts.retry_max_ms=500",
                "--set", "alerts.log_alerter=false"]
        g = self.server(env=env, args=args)
        g.reserve("Backup", "Nightly", 1, "seconds")
        # The record and its intent are written in one batch: once the listing
        # shows the alert, the intent is in the outbox.
        self.assertTrue(wait_until(lambda: (g.job("Backup", "Nightly") or {}).get("alerts", 0) >= 1,
                                   timeout=10), g.log_tail())
        self.assertTrue(wait_until(lambda: "alert delivery failed" in g.log_tail(200), timeout=10),
                        g.log_tail())
        g.kill()

        rx = PortReceiver(port)
        try:
            g.start()
            got = wait_until(lambda: rx.late("Backup"), timeout=15)
            self.assertTrue(got, "pending alert not delivered after restart; log:\n" + g.log_tail())
            self.assertEqual(got[0]["component"], "Nightly")
            self.assertTrue(got[0]["dedup_key"])
            self.assertIn("resuming", g.log_tail(200))
        finally:
            rx.close()


if __name__ == "__main__":
    unittest.main()
