"""What survives a stop or a crash of the real process on the same data directory."""

import http.client
import os
import socket
import subprocess
import threading
import time
import unittest

from gotel_harness import HOST, GotelTestCase, gotel_bin, http_request


def stable(jobs):
    """The listing without the one field that moves with the wall clock."""
    return sorted(({k: v for k, v in j.items() if k != "time_since_last_checkin"}
                   for j in jobs), key=lambda j: j["job_id"])


class RestartTest(GotelTestCase):
    def test_unusable_data_dir_is_a_startup_error_not_a_crash(self):
        # Regression: node::start's early return destroyed a node without a
        # group committer, and gotel died of SIGSEGV before printing why.
        env = {k: v for k, v in os.environ.items() if not k.startswith("GOTEL_")}
        out = subprocess.run([gotel_bin(), "--data-dir", "/proc/gotel-no-such/data",
                              "--listen", "127.0.0.1:0"],
                             capture_output=True, text=True, timeout=20, env=env)
        self.assertEqual(out.returncode, 1, out.stdout + out.stderr)
        self.assertIn("cannot open the data directory", out.stdout + out.stderr)

    def test_clean_restart_keeps_everything(self):
        g = self.server()
        g.reserve("A1", "C1", 5, "minutes", owner="me@example.com", notify="a@x.com,b@x.com",
                  alert_msg="Job {app} late")
        g.reserve("A2", "C2", 2, "hours", owner="you")
        g.reserve("A3", "C3", 1, "days")
        for _ in range(3):
            self.assertEqual(g.checkin("A1", "C1").status, 200)
        self.assertEqual(g.checkin("A2", "C2", notes="ok").status, 200)
        r = g.post("/snooze", {"app": "A2", "component": "C2", "duration": 3,
                               "time_units": "hours"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(g.post("/checkout", {"app": "A3", "component": "C3"}).status, 200)
        before = g.user_jobs()
        self.assertEqual(len(before), 2)

        self.assertEqual(g.stop(), 0, "SIGTERM exit code; log:\n" + g.log_tail())
        g.start()
        after = g.user_jobs()
        self.assertEqual(stable(after), stable(before))
        a2 = [j for j in after if j["app"] == "A2"][0]
        self.assertGreater(a2["snoozed_until"], time.time() + 3600)
        self.assertIn("<td>SNOOZED</td>", g.get("/status").text)

        # The service carries on where it stopped: counts grow, ids are not reused.
        self.assertEqual(g.checkin("A1", "C1").status, 200)
        self.assertEqual(g.job("A1", "C1")["number_of_checkins"], 4)
        g.reserve("A4", "C4", 1, "hours")
        ids = [j["job_id"] for j in before]
        self.assertNotIn(g.job("A4", "C4")["job_id"], ids)
        self.assertEqual(g.checkin("A3", "C3").status, 404)  # checked out stays out

    def test_sigterm_with_listings_queued_exits_cleanly(self):
        # Regression: the last reference to the api's state could be dropped by
        # a listing finishing on the api's own pool after SIGTERM; its
        # destructor then joined that pool from inside it and gotel hung (or
        # aborted), which ASan's slower listings made likely. Here SIGTERM
        # lands while a backlog of listings is queued.
        g = self.server()
        for i in range(200):
            g.reserve("Backlog", "C%d" % i, 1, "hours")
        request = b"GET /reservation HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        socks = []
        try:
            for _ in range(40):
                s = socket.create_connection((HOST, g.port), timeout=10)
                s.sendall(request)
                socks.append(s)
            # The first answer means the pool is busy and the rest are queued.
            socks[0].recv(1)
            started = time.monotonic()
            self.assertEqual(g.stop(timeout=30), 0, "SIGTERM exit code; log:\n" + g.log_tail())
            self.assertLess(time.monotonic() - started, 10, "slow shutdown; log:\n" + g.log_tail())
        finally:
            for s in socks:
                s.close()
        g.start()
        self.assertEqual(len(g.user_jobs()), 200)

    def test_acknowledged_checkins_survive_kill_9(self):
        g = self.server()
        g.reserve("Busy", "Job", 1, "hours")
        port = g.port
        acked = [0, 0]
        stop = threading.Event()

        def client(i):
            body = {"app": "Busy", "component": "Job"}
            while not stop.is_set():
                try:
                    r = http_request(port, "POST", "/checkin", body, timeout=2)
                except (OSError, http.client.HTTPException):
                    return  # the server is gone
                if r.status == 200:
                    acked[i] += 1

        threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(2)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 5
        while sum(acked) < 50 and time.monotonic() < deadline:
            time.sleep(0.05)
        g.kill()
        stop.set()
        for t in threads:
            t.join(timeout=5)
            self.assertFalse(t.is_alive())
        total = sum(acked)
        self.assertGreater(total, 0, "no checkin was acknowledged before the kill")

        g.start()
        job = g.job("Busy", "Job")
        self.assertIsNotNone(job, "reservation lost by kill -9")
        self.assertGreaterEqual(job["number_of_checkins"], total,
                                "acknowledged checkins lost by kill -9")
        # At most the requests in flight at the kill can be counted without an answer.
        self.assertLessEqual(job["number_of_checkins"], total + len(threads))

    def test_deadline_missed_while_stopped_alerts_at_start(self):
        hook = self.receiver()
        g = self.server(env={"GOTEL_WEBHOOK_URL": hook.url},
                        args=["--set", "alerts.retry_initial_ms=200"])
        g.reserve("Offline", "Job", 2, "seconds", alert_msg="{app} missed")
        self.assertEqual(g.checkin("Offline", "Job").status, 200)
        self.assertEqual(g.stop(), 0)
        time.sleep(3)
        self.assertEqual(hook.events(app="Offline"), [])
        g.start()
        started = time.monotonic()
        late = hook.wait_for("late", app="Offline", timeout=5)
        self.assertIsNotNone(late, "missed deadline not alerted after start; log:\n"
                             + g.log_tail())
        self.assertLess(time.monotonic() - started, 1.5,
                        "overdue job waited for another period instead of alerting at start")
        self.assertEqual(late["message"], "Offline missed")
        self.assertIs(g.job("Offline", "Job")["failing_sla"], True)

    def test_delivered_alert_is_not_repeated_after_restart(self):
        hook = self.receiver()
        g = self.server(env={"GOTEL_WEBHOOK_URL": hook.url},
                        args=["--set", "alerts.retry_initial_ms=200"])
        g.reserve("Once", "Job", 1, "seconds")
        late = hook.wait_for("late", app="Once", timeout=5)
        self.assertIsNotNone(late)
        time.sleep(0.3)  # let the delivery be recorded before stopping
        self.assertEqual(g.stop(), 0)
        g.start()
        time.sleep(2)
        events = [(b["event"], b["dedup_key"]) for b in hook.events(app="Once")]
        self.assertEqual(events, [("late", late["dedup_key"])],
                         "a clean restart re-sent or added alerts")
        # Still late after the restart, and still able to recover.
        self.assertIs(g.job("Once", "Job")["failing_sla"], True)
        self.assertEqual(g.checkin("Once", "Job").status, 200)
        recovered = hook.wait_for("recovered", app="Once", timeout=5)
        self.assertIsNotNone(recovered)
        self.assertEqual(recovered["dedup_key"], late["dedup_key"])


if __name__ == "__main__":
    unittest.main()
