"""GoTel's curl examples against the real binary, with the exact bodies of
shared/reference/gotel-api.md: what an existing cron line sees."""

import json
import unittest

from gotel_harness import GotelTestCase

GOTEL_KEYS = ["job_id", "owner", "notify", "alert_msg", "app", "component", "frequency",
              "time_units", "last_checkin", "last_checkin_str", "time_since_last_checkin",
              "failing_sla", "number_of_checkins"]


class ApiContractTest(GotelTestCase):
    def setUp(self):
        super().setUp()
        self.gotel = self.server()

    def assertExactJson(self, resp, status, expected_body):
        self.assertEqual(resp.status, status, resp)
        self.assertJsonContentType(resp)
        self.assertEqual(resp.json(), expected_body, resp)

    def test_root_says_a_ok(self):
        r = self.gotel.get("/")
        self.assertExactJson(r, 200, {"message": "A-OK!", "success": True})

    def test_curl_lifecycle_exact_bodies(self):
        g = self.gotel
        r = g.post("/reservation", {"app": "billing", "component": "nightly", "frequency": 5,
                                    "time_units": "minutes", "notify": "a@example.com",
                                    "owner": "ops@example.com", "alert_msg": "late {app}"})
        self.assertExactJson(r, 200, "OK")
        self.assertEqual(r.body.strip(), b'"OK"')

        r = g.post("/checkin", {"app": "billing", "component": "nightly", "notes": "done"})
        self.assertExactJson(r, 200, {"message": "Application checked in: billing",
                                      "success": True})

        r = g.post("/snooze", {"app": "billing", "component": "nightly", "duration": 1,
                               "time_units": "hours"})
        self.assertExactJson(r, 200, {"message": "Application alerting paused: billing",
                                      "success": True})

        r = g.post("/checkout", {"app": "billing", "component": "nightly"})
        self.assertExactJson(r, 200, {"message": "Application Removed [billing/nightly] ",
                                      "success": True})
        self.assertEqual(g.user_jobs(), [])

    def test_listing_keys_in_gotel_order(self):
        g = self.gotel
        g.reserve("A1", "C1", 5, "minutes", owner="me@example.com", notify="a@x.com,b@x.com",
                  alert_msg="Job {app} is late")
        r = g.get("/reservation")
        self.assertEqual(r.status, 200, r)
        self.assertJsonContentType(r)
        doc = r.json(object_pairs_hook=lambda pairs: pairs)
        top = dict(doc)
        self.assertIs(top["success"], True)
        self.assertEqual(sorted(top), ["result", "success"])
        elements = [e for e in top["result"] if dict(e)["app"] != "gotel"]
        self.assertEqual(len(elements), 1, elements)
        keys = [k for k, _ in elements[0]]
        self.assertEqual(keys[:len(GOTEL_KEYS)], GOTEL_KEYS)

        job = dict(elements[0])
        self.assertIsInstance(job["job_id"], int)
        self.assertEqual(job["owner"], "me@example.com")
        self.assertEqual(job["notify"], "a@x.com,b@x.com")
        self.assertEqual(job["alert_msg"], "Job {app} is late")  # as given, not rendered
        self.assertEqual((job["app"], job["component"]), ("A1", "C1"))
        self.assertEqual((job["frequency"], job["time_units"]), (5, "minutes"))
        self.assertIs(job["failing_sla"], False)
        self.assertEqual(job["number_of_checkins"], 0)

    def test_checkin_fills_the_listing_and_counts(self):
        g = self.gotel
        g.reserve("A1", "C1", 5, "minutes")
        for _ in range(3):
            r = g.checkin("A1", "C1")
            self.assertEqual(r.status, 200, r)
        job = g.job("A1", "C1")
        self.assertEqual(job["number_of_checkins"], 3)
        self.assertGreater(job["last_checkin"], 0)
        self.assertTrue(job["last_checkin_str"].endswith(("GMT", "UTC")), job)
        self.assertIn(job["time_since_last_checkin"], ("now", "1 second ago"))
        self.assertIs(job["failing_sla"], False)

    def test_upsert_identity_ignores_case_and_trailing_spaces(self):
        g = self.gotel
        g.reserve("A1", "C1", 5, "minutes", owner="first-owner", notify="a@x.com",
                  alert_msg="first")
        first = g.job("A1", "C1")
        g.reserve("a1 ", "c1", 7, "hours", owner="second-owner", notify="b@x.com",
                  alert_msg="second {owner}")
        jobs = g.user_jobs()
        self.assertEqual(len(jobs), 1, jobs)
        job = jobs[0]
        self.assertEqual(job["job_id"], first["job_id"])
        self.assertEqual(job["owner"], "first-owner")  # kept
        self.assertEqual(job["notify"], "b@x.com")     # replaced
        self.assertEqual(job["alert_msg"], "second {owner}")
        self.assertEqual((job["frequency"], job["time_units"]), (7, "hours"))

        # Checkins under either spelling land on the same job.
        self.assertEqual(g.checkin("a1 ", "C1 ").status, 200)
        self.assertEqual(g.checkin("A1", "c1").status, 200)
        self.assertEqual(g.job(job["app"], job["component"])["number_of_checkins"], 2)

    def test_keys_case_insensitive_and_unknown_keys_ignored(self):
        g = self.gotel
        r = g.post("/reservation", {"APP": "Upper", "Component": "Comp", "FREQUENCY": 2,
                                    "Time_Units": "hours", "OWNER": "o", "bogus": [1, 2],
                                    "extra": {"x": 1}})
        self.assertExactJson(r, 200, "OK")
        job = g.job("Upper", "Comp")
        self.assertIsNotNone(job, g.listing())
        self.assertEqual((job["frequency"], job["time_units"], job["owner"]), (2, "hours", "o"))
        r = g.post("/checkin", {"App": "Upper", "COMPONENT": "Comp", "whatever": True})
        self.assertExactJson(r, 200, {"message": "Application checked in: Upper",
                                      "success": True})
        self.assertEqual(g.job("Upper", "Comp")["number_of_checkins"], 1)

    def test_is_coordinator(self):
        r = self.gotel.get("/is-coordinator")
        self.assertEqual(r.status, 200, r)
        self.assertIs(json.loads(r.body), True)

    def test_html_pages(self):
        g = self.gotel
        g.reserve("PageApp", "PageComp", 5, "minutes", owner="page-owner")
        g.checkin("PageApp", "PageComp")
        r = g.get("/status")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.content_type.startswith("text/html"), r.content_type)
        for column in ["JobID", "App", "Component", "Owner", "Frequency", "Time Units",
                       "Last Checkin", "Time Since Last Checkin", "Num Checkins", "Status"]:
            self.assertIn("<th>%s</th>" % column, r.text)
        for cell in ["PageApp", "PageComp", "page-owner"]:
            self.assertIn("<td>%s</td>" % cell, r.text)
        self.assertIn("<td>OK</td>", r.text)
        self.assertIn('href="/badguests"', r.text)
        self.assertIn('href="/nodes"', r.text)

        r = g.get("/badguests")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.content_type.startswith("text/html"), r.content_type)
        for column in ["App", "Component", "Alerts"]:
            self.assertIn("<th>%s</th>" % column, r.text)

        r = g.get("/nodes")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.content_type.startswith("text/html"), r.content_type)
        self.assertIn("coordinator", r.text)

    def test_status_page_escapes_html(self):
        g = self.gotel
        g.reserve("<script>x</script>", "c&d", 5, "minutes")
        r = g.get("/status")
        self.assertNotIn("<script>x</script>", r.text)
        self.assertIn("&lt;script&gt;", r.text)
        self.assertIn("c&amp;d", r.text)


if __name__ == "__main__":
    unittest.main()
