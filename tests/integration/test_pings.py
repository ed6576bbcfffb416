"""Healthchecks-style ping URLs, runs and cron schedules against the real binary.

Pings by uuid and by slug (with ?create=1), start/fail/exit-status signals, a
run exceeding max_duration alerting a webhook receiver, and cron schedules
checked through the listing's next expected time (no waiting for minutes).
"""

import datetime
import re
import time
import unittest
import zoneinfo

from gotel_harness import GotelTestCase

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


class PingsTest(GotelTestCase):
    def start(self, data_dir=None):
        self.hook = self.receiver()
        self.gotel = self.server(env={"GOTEL_WEBHOOK_URL": self.hook.url},
                                 args=["--set", "alerts.retry_initial_ms=200",
                                       "--set", "alerts.retry_max_ms=1000"],
                                 data_dir=data_dir)
        return self.gotel

    def assertText(self, resp, status, body):
        self.assertEqual(resp.status, status, resp)
        self.assertTrue(resp.content_type.startswith("text/plain"), resp)
        self.assertEqual(resp.text, body, resp)

    def test_ping_by_uuid_with_every_method(self):
        g = self.start()
        g.reserve("Backup", "Nightly", 1, "hours")
        uuid = g.job("Backup", "Nightly")["uuid"]
        self.assertRegex(uuid, UUID_RE)

        self.assertText(g.get("/ping/" + uuid), 200, "OK")
        self.assertText(g.post("/ping/" + uuid, b"backup done: 12 GB\n"), 200, "OK")
        head = g.request("HEAD", "/ping/" + uuid)
        self.assertEqual(head.status, 200, head)
        self.assertText(g.get("/ping/" + uuid.upper()), 200, "OK")
        job = g.job("Backup", "Nightly")
        self.assertEqual(job["number_of_checkins"], 4)
        self.assertIs(job["failing_sla"], False)

        self.assertText(g.post("/ping/%s/log" % uuid, b"just a note"), 200, "OK")
        self.assertEqual(g.job("Backup", "Nightly")["number_of_checkins"], 4,
                         "a log ping is not a checkin")

        self.assertText(g.get("/ping/0b1c2d3e-4f50-4a6b-8c7d-8e9fa0b1c2d3"), 404, "not found")
        self.assertText(g.get("/ping/%s/256" % uuid), 400,
                        "invalid url format: exit status must be 0-255")
        self.assertEqual(g.request("PUT", "/ping/" + uuid, b"").status, 405)
        # The same uuid after a restart.
        g.stop()
        g.start()
        self.assertEqual(g.job("Backup", "Nightly")["uuid"], uuid)
        self.assertText(g.get("/ping/" + uuid), 200, "OK")

    def test_every_ping_answer_has_healthchecks_headers(self):
        g = self.start()
        g.reserve("hdr", "job", 1, "hours")
        uuid = g.job("hdr", "job")["uuid"]
        answers = {
            "ok": g.get("/ping/" + uuid),
            "not found": g.get("/ping/0b1c2d3e-4f50-4a6b-8c7d-8e9fa0b1c2d3"),
            "bad uuid": g.get("/ping/not-uuid/"),
            "uuid without dashes": g.get("/ping/07c2f54898504b27af5d6c9dc157ec02/"),
            "upper-case slug": g.get("/ping/hdr/JOB"),
            "bad exit status": g.get("/ping/%s/256" % uuid),
            "method": g.request("PUT", "/ping/" + uuid, b""),
        }
        statuses = {k: r.status for k, r in answers.items()}
        self.assertEqual(statuses, {"ok": 200, "not found": 404, "bad uuid": 404,
                                    "uuid without dashes": 404, "upper-case slug": 400,
                                    "bad exit status": 400, "method": 405})
        self.assertEqual(answers["upper-case slug"].text, "invalid url format")
        for name, r in answers.items():
            self.assertEqual(r.headers.get("access-control-allow-origin"), "*", name)
            self.assertEqual(r.headers.get("ping-body-limit"), "10000", name)
            self.assertIn("no-cache", r.headers.get("cache-control", ""), name)

    def test_oversized_ping_body_is_truncated_not_refused(self):
        g = self.server(args=["--set", "server.ping_body_limit=16",
                              "--set", "server.max_body_bytes=8192"])
        g.reserve("Big", "Log", 1, "hours")
        uuid = g.job("Big", "Log")["uuid"]
        r = g.post("/ping/" + uuid, b"0123456789abcdefXYZ" + b"x" * 5000)
        self.assertText(r, 200, "OK")
        self.assertEqual(r.headers.get("ping-body-limit"), "16")
        self.assertEqual(g.job("Big", "Log")["number_of_checkins"], 1)
        pings = g.get("/api/v1/reservations/Big/Log/pings").json()["result"]
        self.assertEqual(pings[0]["notes"], "0123456789abcdef")
        # Above server.max_body_bytes the HTTP layer refuses the request.
        self.assertEqual(g.post("/ping/" + uuid, b"x" * 8193).status, 413)
        self.assertEqual(g.job("Big", "Log")["number_of_checkins"], 1)

    def test_ping_body_limit_defaults_to_healthchecks_10000_bytes(self):
        g = self.server()
        g.reserve("Big", "Default", 1, "hours")
        uuid = g.job("Big", "Default")["uuid"]
        r = g.post("/ping/" + uuid, b"y" * 12000)
        self.assertText(r, 200, "OK")
        self.assertEqual(r.headers.get("ping-body-limit"), "10000")
        pings = g.get("/api/v1/reservations/Big/Default/pings").json()["result"]
        self.assertEqual(len(pings[0]["notes"]), 10000)

    def test_slug_pings_create_start_and_exit_statuses(self):
        g = self.start()
        path = "/ping/ping-key/nightly-db"
        self.assertText(g.get(path), 404, "not found")
        self.assertIsNone(g.job("ping-key", "nightly-db"))

        self.assertText(g.post(path + "/start?create=1&rid=r1", b""), 201, "Created")
        # Once it exists, create=1 is an ordinary ping.
        self.assertText(g.get(path + "/log?create=1"), 200, "OK")
        job = g.job("ping-key", "nightly-db")
        self.assertIsNotNone(job, "create=1 did not create")
        self.assertEqual((job["frequency"], job["time_units"], job["grace"]), (1, "days", 3600))
        self.assertEqual(job["running"], 1)
        self.assertEqual(job["runs"][0]["run_id"], "r1")
        self.assertRegex(job["uuid"], UUID_RE)

        time.sleep(0.3)
        self.assertText(g.get(path + "/0?rid=r1"), 200, "OK")
        job = g.job("ping-key", "nightly-db")
        self.assertEqual(job["running"], 0)
        self.assertGreaterEqual(job["last_duration"], 0.3)
        self.assertLess(job["last_duration"], 5)
        self.assertEqual(job["runs_finished"], 1)
        self.assertEqual(job["last_exit_status"], 0)
        self.assertEqual(job["number_of_checkins"], 1)

        self.assertText(g.post(path + "/3", b"Traceback: boom"), 200, "OK")
        alert = self.hook.wait_for("late", app="ping-key", timeout=5)
        self.assertIsNotNone(alert, "exit status 3 did not alert; log:\n" + g.log_tail())
        self.assertIn("failed with exit status 3", alert["message"])
        self.assertIn("Traceback: boom", alert["message"])
        job = g.job("ping-key", "nightly-db")
        self.assertIs(job["failed"], True)
        self.assertEqual(job["last_exit_status"], 3)

        self.assertText(g.get(path), 200, "OK")
        recovered = self.hook.wait_for("recovered", app="ping-key", timeout=5)
        self.assertIsNotNone(recovered, "no recovery after a success")
        self.assertEqual(recovered["dedup_key"], alert["dedup_key"])
        self.assertIs(g.job("ping-key", "nightly-db")["failed"], False)

    def test_run_exceeding_max_duration_alerts_at_once(self):
        g = self.start()
        g.reserve("ETL", "Load", 1, "hours", max_duration=1)
        self.assertEqual(g.job("ETL", "Load")["max_duration"], 1)
        r = g.post("/start", {"app": "ETL", "component": "Load", "run_id": "x-1"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json(), {"message": "Run started: ETL", "success": True})
        started = time.monotonic()
        alert = self.hook.wait_for("late", app="ETL", timeout=6)
        self.assertIsNotNone(alert, "no running-too-long alert; log:\n" + g.log_tail())
        waited = time.monotonic() - started
        self.assertGreaterEqual(waited, 0.9)
        self.assertLess(waited, 4)
        self.assertIn("running too long", alert["message"])
        self.assertIn("[x-1]", alert["message"])
        self.assertIn("-run-", alert["dedup_key"])
        job = g.job("ETL", "Load")
        self.assertIs(job["runs"][0]["too_long"], True)
        self.assertIs(job["failing_sla"], False, "running long is not a missed checkin")

        r = g.checkin("ETL", "Load", run_id="x-1")
        self.assertEqual(r.status, 200, r)
        recovered = self.hook.wait_for("recovered", app="ETL", timeout=5)
        self.assertIsNotNone(recovered)
        self.assertEqual(recovered["dedup_key"], alert["dedup_key"])
        job = g.job("ETL", "Load")
        self.assertEqual(job["running"], 0)
        self.assertGreaterEqual(job["last_duration"], 1)
        self.assertGreaterEqual(job["avg_duration"], 1)

    def test_fail_endpoint_and_unknown_jobs(self):
        g = self.start()
        g.reserve("Report", "Daily", 1, "hours")
        r = g.post("/fail", {"app": "Report", "component": "Daily", "exit_status": 2,
                             "notes": "no input"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["message"], "Run failed: Report")
        alert = self.hook.wait_for("late", app="Report", timeout=5)
        self.assertIsNotNone(alert)
        self.assertIn("exit status 2", alert["message"])
        self.assertIn("-fail-", alert["dedup_key"])
        r = g.post("/start", {"app": "No", "component": "Such"})
        self.assertEqual(r.status, 404, r)
        self.assertJsonContentType(r)
        self.assertEqual(r.json()["message"], "no reservation No/Such")
        r = g.post("/fail", {"app": "Report", "component": "Daily", "exit_status": 0})
        self.assertEqual(r.status, 400, r)

    def test_cron_schedules_show_their_next_expected_run(self):
        g = self.start()
        r = g.post("/reservation", {"app": "Cron", "component": "Minutely",
                                    "schedule": "* * * * *", "grace": 30})
        self.assertEqual(r.status, 200, r)
        job = g.job("Cron", "Minutely")
        self.assertEqual((job["schedule"], job["tz"], job["grace"]), ("* * * * *", "UTC", 30))
        self.assertEqual((job["frequency"], job["time_units"]), (1, "minutes"))
        self.assertEqual(job["next_expected"], (job["created"] // 60 + 1) * 60)
        self.assertIs(job["failing_sla"], False)

        r = g.post("/reservation", {"app": "Cron", "component": "Berlin",
                                    "schedule": "0 3 * * MON-FRI", "tz": "Europe/Berlin"})
        self.assertEqual(r.status, 200, r)
        job = g.job("Cron", "Berlin")
        berlin = zoneinfo.ZoneInfo("Europe/Berlin")
        t = datetime.datetime.fromtimestamp(job["created"], berlin)
        t = t.replace(minute=0, second=0, microsecond=0)
        while True:
            t += datetime.timedelta(hours=1)
            if t.hour == 3 and t.weekday() < 5:
                break
        self.assertEqual(job["next_expected"], int(t.timestamp()))
        self.assertEqual(job["tz"], "Europe/Berlin")

        for body, message in [
            ({"schedule": "61 * * * *"}, "invalid schedule: minute: 61 is out of range 0-59"),
            ({"schedule": "* * * * FUNDAY"},
             "invalid schedule: day-of-week: unknown name \"FUNDAY\" (use SUN-SAT or 0-7)"),
            ({"schedule": "0 0 * * *", "tz": "Moon/Base"},
             "invalid tz: unknown time zone \"Moon/Base\" (use an IANA name such as "
             "Europe/Berlin or UTC)"),
        ]:
            body.update({"app": "Cron", "component": "Bad"})
            r = g.post("/reservation", body)
            self.assertEqual(r.status, 400, r)
            self.assertEqual(r.json()["message"], message)
        self.assertIsNone(g.job("Cron", "Bad"))


if __name__ == "__main__":
    unittest.main()
