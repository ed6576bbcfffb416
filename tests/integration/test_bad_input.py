"""Bad requests get a clear JSON error, change nothing, and do not hurt the server."""

import http.client
import socket
import unittest

from gotel_harness import HOST, GotelTestCase

GOOD = {"app": "Good", "component": "Comp", "frequency": 5, "time_units": "minutes",
        "owner": "me", "notify": "a@x.com", "alert_msg": "m"}


def with_(**changes):
    body = dict(GOOD)
    for key, value in changes.items():
        if value is None:
            body.pop(key, None)
        else:
            body[key] = value
    return body


class BadInputTest(GotelTestCase):
    def setUp(self):
        super().setUp()
        self.gotel = self.server()
        self.gotel.reserve(**{k: GOOD[k] for k in GOOD})
        self.gotel.checkin("Good", "Comp")
        # The node's own gotel/* rows are checked in on their own timer.
        self.before = self.gotel.user_jobs()

    def assertRejected(self, resp, status, what):
        self.assertEqual(resp.status, status, "%s: %r" % (what, resp))
        self.assertJsonContentType(resp)
        body = resp.json()
        self.assertIsInstance(body, dict, what)
        self.assertIs(body.get("success"), False, "%s: %r" % (what, resp))
        self.assertIsInstance(body.get("message"), str, what)
        self.assertTrue(body["message"].strip(), "%s: empty message" % what)
        return body

    def assertListingUnchanged(self, what):
        after = self.gotel.user_jobs()
        strip = lambda jobs: [{k: v for k, v in j.items() if k != "time_since_last_checkin"}
                              for j in jobs]
        self.assertEqual(strip(after), strip(self.before), "listing changed after %s" % what)

    def check(self, method, path, body, status, what=None):
        what = what or "%s %s %r" % (method, path, body if len(repr(body)) < 120 else "...")
        resp = self.gotel.request(method, path, body)
        result = self.assertRejected(resp, status, what)
        self.assertListingUnchanged(what)
        return result

    def test_unparsable_bodies(self):
        for path in ["/reservation", "/checkin", "/snooze", "/checkout"]:
            with self.subTest(path=path):
                self.check("POST", path, b"{not json", 400)
                self.check("POST", path, b'{"app": "Good", "component": "Comp"', 400)
                self.check("POST", path, b"null", 400)
                self.check("POST", path, b"", 400)
                self.check("POST", path, b"   \n", 400)
                self.check("POST", path, b'[{"app": "Good", "component": "Comp"}]', 400)
                self.check("POST", path, b'"Good"', 400)
                self.check("POST", path, b"42", 400)

    def test_wrong_types(self):
        cases = [with_(frequency="5"), with_(frequency=1.5), with_(frequency=True),
                 with_(frequency=None), with_(app=5), with_(component=["Comp"]),
                 with_(owner=7), with_(notify={"a": 1}), with_(time_units=1)]
        for body in cases:
            with self.subTest(body=body):
                self.check("POST", "/reservation", body, 400)
        self.check("POST", "/checkin", {"app": "Good", "component": 1}, 400)
        self.check("POST", "/checkin", {"app": "Good", "component": "Comp", "notes": 3}, 400)
        self.check("POST", "/snooze", {"app": "Good", "component": "Comp", "duration": "1",
                                       "time_units": "hours"}, 400)

    def test_missing_or_empty_names(self):
        for body in [with_(app=None), with_(component=None), with_(app=""), with_(component=""),
                     with_(app="   "), with_(app="a\nb")]:
            with self.subTest(body=body):
                self.check("POST", "/reservation", body, 400)
        for path in ["/checkin", "/checkout"]:
            for body in [{"component": "Comp"}, {"app": "Good"}, {"app": "", "component": "Comp"},
                         {"app": "Good", "component": ""}]:
                with self.subTest(path=path, body=body):
                    self.check("POST", path, body, 400)

    def test_bad_schedule(self):
        for body in [with_(time_units="weeks"), with_(time_units=""), with_(time_units=None),
                     with_(frequency=0), with_(frequency=-5), with_(frequency=10 ** 30)]:
            with self.subTest(body=body):
                self.check("POST", "/reservation", body, 400)

    def test_bad_snooze_duration(self):
        for duration in [0, -1, -3600]:
            with self.subTest(duration=duration):
                self.check("POST", "/snooze", {"app": "Good", "component": "Comp",
                                               "duration": duration, "time_units": "seconds"},
                           400)
        self.check("POST", "/snooze", {"app": "Good", "component": "Comp", "duration": 1,
                                       "time_units": "fortnights"}, 400)

    def test_unknown_job_is_404(self):
        for method, path, extra in [("POST", "/checkin", {}),
                                    ("POST", "/snooze", {"duration": 1, "time_units": "hours"}),
                                    ("POST", "/checkout", {}),
                                    ("DELETE", "/snooze", {})]:
            with self.subTest(path=path):
                body = {"app": "Ghost", "component": "Nobody"}
                body.update(extra)
                got = self.check(method, path, body, 404)
                self.assertEqual(got, {"success": False,
                                       "message": "no reservation Ghost/Nobody"})

    def test_oversized_body_is_413(self):
        huge = with_(alert_msg="x" * (70 * 1024))
        try:
            resp = self.gotel.post("/reservation", huge)
        except (ConnectionError, http.client.HTTPException, socket.error) as e:
            self.fail("server dropped the connection instead of answering 413: %r" % e)
        self.assertRejected(resp, 413, "70 KiB body")
        self.assertListingUnchanged("70 KiB body")

    def test_oversized_fields_are_413(self):
        self.check("POST", "/reservation", with_(app="a" * 1000), 413)
        self.check("POST", "/reservation", with_(owner="o" * 1000), 413)
        self.check("POST", "/reservation", with_(alert_msg="m" * 10000), 413)
        self.check("POST", "/checkin", {"app": "Good", "component": "Comp",
                                        "notes": "n" * 10000}, 413)

    def test_unknown_path_and_wrong_method(self):
        self.check("GET", "/nope", None, 404)
        self.check("POST", "/reservations", GOOD, 404)
        self.check("PUT", "/reservation", GOOD, 405)
        self.check("DELETE", "/reservation", GOOD, 405)
        self.check("GET", "/checkin", None, 405)
        self.check("POST", "/", b"{}", 405)
        self.check("POST", "/status", b"{}", 405)

    def test_server_survives_all_of_it(self):
        raw = [b"{", b"\x00\xff\xfe", b'{"app":' + b"[" * 5000, b"null", b""]
        for body in raw:
            for path in ["/reservation", "/checkin", "/snooze", "/checkout", "/nope"]:
                self.gotel.post(path, body)
        # A client that sends garbage instead of HTTP, and one that hangs up mid-body.
        with socket.create_connection((HOST, self.gotel.port), timeout=5) as sock:
            sock.sendall(b"THIS IS NOT HTTP\r\n\r\n")
            try:
                sock.recv(1024)
            except OSError:
                pass
        with socket.create_connection((HOST, self.gotel.port), timeout=5) as sock:
            sock.sendall(b"POST /reservation HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n{")
        self.assertTrue(self.gotel.alive())
        r = self.gotel.get("/")
        self.assertEqual((r.status, r.json()), (200, {"message": "A-OK!", "success": True}))
        self.assertListingUnchanged("garbage")


if __name__ == "__main__":
    unittest.main()
