"""Text that is not UTF-8, or that a cut would make invalid, never takes the
node down (issue 13 section 1, docs/security.md "Text that is not UTF-8").

Each request here used to end the gotel process (nlohmann's type_error.316
thrown while writing the JSON answer) or a bridge actor for good. Now an
identifier (app, component) that is not UTF-8 gets a 4xx JSON error and changes
nothing; free text (a ping body) is stored with U+FFFD in place of each bad
byte; every cut keeps whole code points; and the node keeps serving.
"""

import hashlib
import socket
import unittest

from gotel_harness import GotelTestCase, HOST, wait_until

RW_KEY = "rw-key-for-utf8-tests"
BACKUPS_KEY = "ping-key-for-backups-utf8"


def digest(key):
    return hashlib.sha256(key.encode()).hexdigest()


def raw_request(port, head_bytes, timeout=10.0):
    """Sends `head_bytes` (a whole request, bytes) on its own connection and
    returns (status, body bytes), or (None, b"") when the connection is closed
    with no answer."""
    with socket.create_connection((HOST, port), timeout=timeout) as s:
        s.sendall(head_bytes)
        data = b""
        while True:
            try:
                chunk = s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not chunk:
                break
            data += chunk
    if not data.startswith(b"HTTP/1.1 "):
        return None, b""
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), body


class Utf8Test(GotelTestCase):
    def assertServing(self, g):
        self.assertTrue(g.alive(), "gotel exited; log:\n" + g.log_tail())
        r = g.get("/")
        self.assertEqual(r.status, 200, r)
        # Every listing still answers valid JSON (a bad name must not poison it).
        self.assertEqual(g.get("/reservation").status, 200)
        self.assertEqual(g.get("/api/v1/reservations").status, 200)
        ui = g.get("/status")
        self.assertEqual(ui.status, 200)
        ui.body.decode("utf-8")  # strict: the page is valid UTF-8
        self.assertEqual(g.get("/metrics").status, 200)

    def assertJsonError(self, r, low=400, high=499):
        self.assertTrue(low <= r.status <= high, r)
        doc = r.json()  # strict UTF-8 decode
        self.assertFalse(doc["success"])
        return doc

    def test_a_ping_body_that_is_not_utf8_is_stored_with_replacement_characters(self):
        g = self.server()
        g.reserve("cron", "latin1")
        uuid = g.job("cron", "latin1")["uuid"]
        r = g.post("/ping/" + uuid, b"Hello \xe9 World")
        self.assertEqual(r.status, 200, r)
        pings = g.get("/api/v1/reservations/cron/latin1/pings")
        self.assertEqual(pings.status, 200, "%r; log:\n%s" % (pings, g.log_tail()))
        notes = [p["notes"] for p in pings.json()["result"]]
        self.assertIn("Hello \ufffd World", notes)
        self.assertServing(g)
        # And after a restart the stored entry still reads.
        g.stop()
        g.start()
        pings = g.get("/api/v1/reservations/cron/latin1/pings")
        self.assertEqual(pings.status, 200, pings)
        self.assertIn("Hello \ufffd World", [p["notes"] for p in pings.json()["result"]])
        self.assertServing(g)

    def test_a_body_cut_to_the_limit_keeps_whole_code_points(self):
        g = self.server(env={"GOTEL_SERVER_PING_BODY_LIMIT": "4096"})
        g.reserve("cron", "accents")
        uuid = g.job("cron", "accents")["uuid"]
        body = ("a" * 4095 + "é" * 10).encode("utf-8")
        self.assertEqual(len(body), 4115)
        self.assertEqual(g.post("/ping/" + uuid, body).status, 200)
        pings = g.get("/api/v1/reservations/cron/accents/pings")
        self.assertEqual(pings.status, 200, "%r; log:\n%s" % (pings, g.log_tail()))
        notes = [p["notes"] for p in pings.json()["result"] if p["notes"]]
        self.assertEqual(notes, ["a" * 4095], "cut before the é the limit splits")
        self.assertServing(g)

    def test_a_raw_0xff_in_the_url_is_a_404(self):
        g = self.server()
        status, body = raw_request(
            g.port, b"GET /\xff HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        self.assertEqual(status, 404, body)
        body.decode("utf-8")
        self.assertServing(g)

    def test_percent_encoded_0xff_names_are_refused_with_400(self):
        g = self.server()
        g.reserve("backups", "nightly")
        for method, path in [("GET", "/api/v1/reservations/%ff/x"),
                             ("POST", "/api/v1/reservations/%ff/x/checkin"),
                             ("GET", "/api/v1/reservations/x/%ff/pings"),
                             ("PUT", "/api/v1/reservations/%ff/x"),
                             ("GET", "/ping/%ff/x"),
                             ("GET", "/ping/%ff/x?create=1"),
                             ("POST", "/ping/x/%C3/fail?create=1")]:
            body = {"frequency": 1, "time_units": "hours"} if method == "PUT" else None
            doc_or_text = g.request(method, path, body)
            self.assertEqual(doc_or_text.status, 400, "%s %s: %r" % (method, path, doc_or_text))
            doc_or_text.body.decode("utf-8")
            self.assertServing(g)
        # Nothing was created: the listing has only the one job.
        self.assertEqual([(j["app"], j["component"]) for j in g.user_jobs()],
                         [("backups", "nightly")])
        g.stop()
        g.start()
        self.assertServing(g)

    def test_percent_encoded_0xff_with_a_ping_key(self):
        g = self.server(env={"GOTEL_SERVER_API_KEYS": digest(RW_KEY),
                             "GOTEL_SERVER_PING_KEYS": "backups:%s" % digest(BACKUPS_KEY)})
        for path in ["/ping/%ff/x?key=" + BACKUPS_KEY,
                     "/api/v1/reservations/%ff/x/checkin?key=" + BACKUPS_KEY]:
            r = g.request("GET" if path.startswith("/ping") else "POST", path)
            self.assertTrue(400 <= r.status < 500, "%s: %r" % (path, r))
            r.body.decode("utf-8")
            self.assertTrue(g.alive(), g.log_tail())
        # A checkin whose app the 64-byte cut of the refusal splits inside é.
        r = g.post("/checkin?key=" + BACKUPS_KEY, {"app": "a" * 63 + "é", "component": "c"})
        doc = self.assertJsonError(r)
        self.assertIn("a" * 63, doc["message"])
        self.assertEqual(g.get("/", headers={"X-Api-Key": RW_KEY}).status, 200)
        self.assertTrue(g.alive(), g.log_tail())

    def test_error_messages_cut_inside_a_character_stay_utf8(self):
        g = self.server()
        long_name = "a" * 63 + "€"
        r = g.post("/reservation", {"app": "x", "component": "y", "frequency": 1,
                                    "time_units": "hours", "alerters": [long_name]})
        doc = self.assertJsonError(r)
        self.assertIn("a" * 63, doc["message"])
        self.assertNotIn("\ufffd", doc["message"], "cut before the €, not through it")
        r = g.post("/reservation", {"app": "x", "component": "y", "frequency": 1,
                                    "time_units": "hours", "tags": ["t" * 63 + "€" * 40]})
        self.assertJsonError(r)
        self.assertServing(g)

    def test_deleting_bad_names_leaves_every_bridge_working(self):
        g = self.server()
        for i in range(1, 9):  # twice the four bridges
            r = g.request("DELETE", "/api/v1/reservations/%%ff/x%d" % i)
            self.assertJsonError(r)
        # Every bridge still answers: reserve, checkin and ping, several times
        # so that each of the four round-robin bridges carries one.
        for i in range(8):
            g.reserve("app", "c%d" % i)
            self.assertEqual(g.checkin("app", "c%d" % i).status, 200)
            self.assertEqual(g.get("/ping/app/c%d" % i).status, 200)
        self.assertServing(g)


class LogForgingTest(GotelTestCase):
    """Issue 14 section 7: a value that reaches the log cannot write a line of
    its own (control characters are escaped in every log line)."""

    def test_an_owner_with_a_newline_does_not_forge_a_log_line(self):
        g = self.server()
        forged = "[2026-12-03 09:00:00.000] [info] forged"
        g.reserve("forge", "job", 1, "seconds", owner="bob\n" + forged + "\x00end")
        # The log alerter writes the late alert, owner included.
        self.assertTrue(wait_until(lambda: "forged" in g.log_tail(200), timeout=15),
                        g.log_tail())
        lines = g.log_tail(400).splitlines()
        self.assertFalse([l for l in lines if l.startswith(forged)], "\n".join(lines))
        self.assertTrue([l for l in lines if "bob\\n" + forged + "\\x00end" in l],
                        "\n".join(lines))


class LookAlikeNamesTest(GotelTestCase):
    """Issue 14 section 6: look-alike app names are refused, and a total cap
    bounds every app together."""

    def test_look_alike_names_are_refused_with_400(self):
        g = self.server()
        g.reserve("one", "job")
        for app in [" one", "one\u200b", "\uff4f\uff4e\uff45", "\ufeffone"]:
            r = g.post("/reservation", {"app": app, "component": "job", "frequency": 1,
                                        "time_units": "hours"})
            self.assertEqual(r.status, 400, "%r: %r" % (app, r))
            self.assertFalse(r.json()["success"])
        r = g.get("/ping/%E2%80%8Bone/job?create=1")
        self.assertEqual(r.status, 400, r)
        self.assertEqual([j["app"] for j in g.user_jobs()], ["one"])

    def test_max_reservations_caps_all_apps(self):
        g = self.server(args=["--set", "server.max_reservations=3"])
        created = 0
        for i in range(5):
            r = g.post("/reservation", {"app": "app%d" % i, "component": "c", "frequency": 1,
                                        "time_units": "hours"})
            if r.status == 200:
                created += 1
            else:
                self.assertEqual(r.status, 403, r)
                self.assertIn("server.max_reservations", r.json()["message"])
        self.assertEqual(len(g.user_jobs()), 3,
                         "the cap counts every user reservation (not the node's own rows)")
        self.assertLessEqual(created, 3)


if __name__ == "__main__":
    unittest.main()
