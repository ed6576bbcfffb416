"""The management API (/api/v1) on the real binary, and every answer of a
running server checked against docs/openapi.json: each path and method the
server answers is documented, and each JSON body has the documented shape."""

import json
import time
import unittest
import urllib.parse

from gotel_harness import GotelTestCase, wait_until
from openapi_check import Document, load_document

DOC = Document(load_document())
METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"]


def job_path(app, component, suffix=""):
    q = urllib.parse.quote
    return "/api/v1/reservations/%s/%s%s" % (q(app, safe=""), q(component, safe=""), suffix)


class ManagementTest(GotelTestCase):
    def setUp(self):
        super().setUp()
        self.hook = self.receiver()
        self.g = self.server(env={"GOTEL_WEBHOOK_URL": self.hook.url})
        self.seen = []

    def call(self, method, path, body=None, expect=None):
        """One request, recorded for the document check; asserts `expect`."""
        r = self.g.request(method, path, body)
        self.seen.append((method, path, r))
        if expect is not None:
            self.assertEqual(r.status, expect, "%s %s -> %r" % (method, path, r))
        return r

    def tearDown(self):
        problems = []
        for method, path, r in self.seen:
            problems += DOC.check_response(method, path, r.status, r.content_type, r.body)
        try:
            self.assertEqual(problems, [], "answers that do not fit docs/openapi.json")
        finally:
            super().tearDown()

    def test_openapi_json_is_the_documented_file(self):
        r = self.call("GET", "/openapi.json", expect=200)
        self.assertJsonContentType(r)
        self.assertEqual(r.json(), DOC.doc)
        self.assertTrue(DOC.doc["openapi"].startswith("3."))

    def test_put_is_idempotent_create_or_update(self):
        body = {"frequency": 5, "time_units": "minutes", "owner": "ops", "tags": ["Prod", "db"]}
        r = self.call("PUT", job_path("Billing", "Nightly run"), body, expect=201)
        self.assertIs(r.json()["created"], True)
        res = r.json()["reservation"]
        self.assertEqual((res["app"], res["component"], res["frequency"], res["tags"], res["status"]),
                         ("Billing", "Nightly run", 5, ["prod", "db"], "ok"))
        r = self.call("PUT", job_path("Billing", "Nightly run"), body, expect=200)
        self.assertIs(r.json()["created"], False)
        self.assertEqual(r.json()["reservation"]["job_id"], res["job_id"])
        # Same identity as the original API: case and trailing spaces ignored.
        r = self.call("GET", job_path("billing", "nightly run "), expect=200)
        self.assertEqual(r.json()["reservation"]["job_id"], res["job_id"])
        self.assertEqual(len(self.g.user_jobs()), 1)
        # The original POST /reservation keeps tags it does not mention.
        self.g.reserve("Billing", "Nightly run", 10, "minutes")
        got = self.call("GET", job_path("Billing", "Nightly run"), expect=200).json()["reservation"]
        self.assertEqual((got["frequency"], got["tags"]), (10, ["prod", "db"]))
        self.assertEqual(self.g.job("Billing", "Nightly run")["tags"], ["prod", "db"])
        # An update may clear them.
        body["tags"] = []
        got = self.call("PUT", job_path("Billing", "Nightly run"), body, expect=200).json()
        self.assertEqual(got["reservation"]["tags"], [])

    def test_list_filters_by_tag_status_and_app(self):
        self.call("PUT", job_path("web", "ok-job"), {"frequency": 1, "time_units": "hours",
                                                      "tags": "prod,web"}, expect=201)
        self.call("PUT", job_path("web", "late-job"), {"frequency": 1, "time_units": "seconds",
                                                        "tags": ["prod"]}, expect=201)
        self.call("PUT", job_path("etl", "paused-job"), {"frequency": 1, "time_units": "hours"},
                  expect=201)
        self.call("POST", job_path("etl", "paused-job", "/pause"), expect=200)

        def names(query):
            r = self.call("GET", "/api/v1/reservations" + query, expect=200)
            return sorted(j["component"] for j in r.json()["result"] if j["app"] != "gotel")

        self.assertTrue(wait_until(lambda: names("?status=late") == ["late-job"], timeout=5))
        self.assertEqual(names(""), ["late-job", "ok-job", "paused-job"])
        self.assertEqual(names("?status=ok"), ["ok-job"])
        self.assertEqual(names("?status=paused"), ["paused-job"])
        self.assertEqual(names("?tag=prod"), ["late-job", "ok-job"])
        self.assertEqual(names("?tag=PROD&status=ok"), ["ok-job"])
        self.assertEqual(names("?app=ETL"), ["paused-job"])
        self.assertEqual(names("?tag=nope"), [])
        r = self.call("GET", "/api/v1/reservations?status=broken", expect=400)
        self.assertIn("status must be", r.json()["message"])

    def test_pause_resume_checkin_and_ping_history(self):
        self.call("PUT", job_path("app", "comp"), {"frequency": 1, "time_units": "hours"},
                  expect=201)
        r = self.call("POST", job_path("app", "comp", "/pause"), expect=200)
        res = r.json()["reservation"]
        self.assertEqual(res["status"], "paused")
        self.assertGreater(res["snoozed_until"], time.time() + 9 * 365 * 86400)
        r = self.call("POST", job_path("app", "comp", "/resume"), expect=200)
        self.assertEqual((r.json()["reservation"]["status"],
                          r.json()["reservation"]["snoozed_until"]), ("ok", 0))
        r = self.call("POST", job_path("app", "comp", "/pause"),
                      {"duration": 2, "time_units": "hours"}, expect=200)
        until = r.json()["reservation"]["snoozed_until"]
        self.assertAlmostEqual(until, time.time() + 7200, delta=60)

        for i in range(3):
            self.g.checkin("app", "comp", notes="run %d" % i)
        r = self.call("POST", job_path("app", "comp", "/checkin"), {"notes": "via api"},
                      expect=200)
        self.assertEqual(r.json()["reservation"]["number_of_checkins"], 4)
        r = self.call("GET", job_path("app", "comp", "/pings"), expect=200)
        notes = [p["notes"] for p in r.json()["result"]]
        self.assertEqual(notes, ["via api", "run 2", "run 1", "run 0"])
        self.assertEqual(r.json()["result"][0]["source"], "127.0.0.1")
        r = self.call("GET", job_path("app", "comp", "/pings?limit=2"), expect=200)
        self.assertEqual([p["notes"] for p in r.json()["result"]], ["via api", "run 2"])
        self.call("GET", job_path("app", "comp", "/pings?limit=0"), expect=400)
        self.call("GET", job_path("nope", "comp", "/pings"), expect=404)

    def test_delete_and_alert_history(self):
        self.call("PUT", job_path("flaky", "job"), {"frequency": 1, "time_units": "seconds"},
                  expect=201)
        self.call("PUT", job_path("other", "job"), {"frequency": 1, "time_units": "hours"},
                  expect=201)
        self.assertIsNotNone(self.hook.wait_for("late", app="flaky", timeout=10))

        def alerts():
            r = self.call("GET", job_path("flaky", "job", "/alerts"), expect=200)
            return r.json()["result"]

        got = wait_until(lambda: [a for a in alerts() if a["outcome"] == "delivered"
                                  and a["channel"] == "webhook"], timeout=10)
        self.assertTrue(got, alerts())
        self.assertEqual((got[0]["app"], got[0]["component"], got[0]["kind"]),
                         ("flaky", "job", "late"))
        r = self.call("GET", "/api/v1/alerts?app=other", expect=200)
        self.assertEqual(r.json()["result"], [])
        r = self.call("GET", "/api/v1/alerts?limit=1", expect=200)
        self.assertEqual(len(r.json()["result"]), 1)

        r = self.call("DELETE", job_path("flaky", "job"), expect=200)
        self.assertEqual(r.json(), {"success": True, "message": "Application Removed [flaky/job] "})
        self.call("GET", job_path("flaky", "job"), expect=404)
        r = self.call("DELETE", job_path("flaky", "job"), expect=404)
        self.assertIs(r.json()["success"], False)
        # The alert log outlives the reservation.
        self.assertTrue(alerts())

    def test_errors_are_json_4xx_with_messages(self):
        cases = [
            ("PUT", job_path("a", "b"), "{not json", 400, "not valid JSON"),
            ("PUT", job_path("a", "b"), [1], 400, "must be a JSON object"),
            ("PUT", job_path("a", "b"), {"time_units": "minutes"}, 400, "frequency is required"),
            ("PUT", job_path("a", "b"), {"frequency": 1, "time_units": "weeks"}, 400,
             "time_units must be"),
            ("PUT", job_path("a", "b"), {"app": "other", "frequency": 1, "time_units": "hours"},
             400, "does not match the path"),
            ("PUT", job_path("a", "b"), {"frequency": 1, "time_units": "hours",
                                         "tags": ["bad tag!"]}, 400, "may only hold"),
            ("PUT", job_path("a", "b"), {"frequency": 1, "time_units": "hours",
                                         "tags": [str(i) for i in range(21)]}, 400,
             "at most 20 tags"),
            ("GET", job_path("missing", "job"), None, 404, "no reservation missing/job"),
            ("POST", job_path("missing", "job", "/pause"), None, 404, "no reservation"),
            ("POST", job_path("missing", "job", "/resume"), None, 404, "no reservation"),
            ("POST", job_path("a", "b", "/pause"), {"duration": 0, "time_units": "hours"}, 400,
             "duration must be greater than 0"),
            ("GET", "/api/v1/reservations/only-app", None, 404, "expected /api/v1/reservations"),
            ("GET", "/api/v1/reservations/a/b/nonsense", None, 404, "no such endpoint"),
            ("GET", "/api/v1/reservations/a%zz/b", None, 404, "%-encoded"),
            ("GET", "/api/v2/anything", None, 404, "no such endpoint"),
            ("POST", "/api/v1/reservations", {}, 405, "not allowed"),
            ("PATCH", job_path("a", "b"), {}, 405, "not allowed"),
            ("GET", job_path("a", "b", "/pause"), None, 405, "not allowed"),
            ("POST", "/metrics", None, 405, "not allowed"),
        ]
        for method, path, body, status, text in cases:
            with self.subTest(method=method, path=path):
                r = self.call(method, path, body, expect=status)
                self.assertJsonContentType(r)
                self.assertIs(r.json()["success"], False)
                self.assertIn(text, r.json()["message"])

    def test_node_status(self):
        self.call("PUT", job_path("x", "y"), {"frequency": 1, "time_units": "hours"}, expect=201)
        self.g.checkin("x", "y")
        r = self.call("GET", "/api/v1/status", expect=200)
        s = r.json()
        self.assertIs(s["coordinator"], True)
        self.assertGreaterEqual(s["reservations"], 1)
        self.assertEqual(s["reservations"], s["ok"] + s["late"] + s["paused"])
        self.assertGreaterEqual(s["checkins_total"], 1)

    def test_every_answered_path_and_method_is_documented(self):
        """Probes each documented path (with sample values) and some that should
        not exist with every method; whatever the server answers with neither
        404 "no such endpoint" nor 405 must be documented, and fit."""
        self.call("PUT", job_path("doc", "job"), {"frequency": 1, "time_units": "hours"},
                  expect=201)
        samples = {"app": "doc", "component": "job", "uuid": "00000000-0000-0000-0000-000000000000",
                   "first": "doc", "second": "job", "signal": "log"}
        paths = []
        for template in DOC.doc["paths"]:
            path = template
            for name, value in samples.items():
                path = path.replace("{%s}" % name, value)
            paths.append(path)
        paths += ["/api", "/api/v1", "/api/v1/reservation", "/reservations", "/health",
                  "/api/v1/reservations/doc/job/extra/more", "/ui", "/metrics/x", "/status/x"]
        for path in paths:
            for method in METHODS:
                if method in ("DELETE",) and path == job_path("doc", "job"):
                    continue  # would remove the sample; deletion is tested above
                body = {} if method in ("POST", "PUT", "DELETE", "PATCH") else None
                r = self.call(method, path, body)
                # HEAD is answered wherever GET is.
                template, op = DOC.operation("GET" if method == "HEAD" else method, path)
                if template is None:
                    self.assertEqual(r.status, 404, "%s %s answered %d but is not documented"
                                     % (method, path, r.status))
                elif op is None:
                    # 404: a documented family (the /ping URLs) this build does not serve.
                    self.assertIn(r.status, (404, 405), "%s %s answered %d but %s has no %s"
                                     % (method, path, r.status, template, method))


if __name__ == "__main__":
    unittest.main()
