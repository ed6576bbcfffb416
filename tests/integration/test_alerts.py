"""Alerts as a webhook receiver sees them: late, recovered, retried, snoozed."""

import time
import unittest

from gotel_harness import GotelTestCase

TEMPLATE = ("Job {app}/{component} owned by {owner} missed; "
            "checkins={checkins} freq={frequency}")


class AlertsTest(GotelTestCase):
    def start(self, fail_first=0):
        self.hook = self.receiver(fail_first=fail_first)
        self.gotel = self.server(env={"GOTEL_WEBHOOK_URL": self.hook.url},
                                 args=["--set", "alerts.retry_initial_ms=200",
                                       "--set", "alerts.retry_max_ms=1000"])
        return self.gotel

    def test_late_then_recovered(self):
        g = self.start()
        g.reserve("Nightly", "Backup", 1, "seconds", owner="ops@example.com",
                  notify="a@example.com", alert_msg=TEMPLATE)
        reserved_at = time.time()
        late = self.hook.wait_for("late", app="Nightly", timeout=5)
        self.assertIsNotNone(late, "no late alert within 5 s; log:\n" + g.log_tail())
        self.assertLess(time.time() - reserved_at, 3.5, "late alert came too late")
        self.assertEqual(late["message"],
                         "Job Nightly/Backup owned by ops@example.com missed; "
                         "checkins=0 freq=1seconds")
        self.assertEqual((late["app"], late["component"], late["owner"], late["notify"]),
                         ("Nightly", "Backup", "ops@example.com", "a@example.com"))
        self.assertIsInstance(late["dedup_key"], str)
        self.assertTrue(late["dedup_key"])
        job = g.job("Nightly", "Backup")
        self.assertEqual(late["job_id"], job["job_id"])
        self.assertIs(job["failing_sla"], True, job)
        self.assertIn("<td>FAILING</td>", g.get("/status").text)
        self.assertIn("<td>Nightly</td>", g.get("/badguests").text)

        r = g.checkin("Nightly", "Backup")
        self.assertEqual(r.status, 200, r)
        recovered = self.hook.wait_for("recovered", app="Nightly", timeout=5)
        self.assertIsNotNone(recovered, "no recovered notice; log:\n" + g.log_tail())
        self.assertEqual(recovered["dedup_key"], late["dedup_key"])
        self.assertEqual(recovered["job_id"], late["job_id"])

    def test_job_checking_in_on_time_is_not_alerted(self):
        g = self.start()
        g.reserve("Steady", "Job", 2, "seconds")
        g.checkin("Steady", "Job")
        stop_at = time.monotonic() + 3.0
        while time.monotonic() < stop_at:
            r = g.checkin("Steady", "Job")
            self.assertEqual(r.status, 200, r)
            time.sleep(0.3)
        job = g.job("Steady", "Job")
        self.assertIs(job["failing_sla"], False, job)
        self.assertGreaterEqual(job["number_of_checkins"], 9)
        self.assertEqual(self.hook.events(app="Steady"), [])
        self.assertEqual(self.hook.requests, [])

    def test_failed_deliveries_are_retried(self):
        g = self.start(fail_first=2)
        g.reserve("Flaky", "Receiver", 1, "seconds")
        late = self.hook.wait_for("late", app="Flaky", timeout=8)
        self.assertIsNotNone(late, "alert never delivered; log:\n" + g.log_tail())
        statuses = [status for status, _, _ in self.hook.requests]
        self.assertEqual(statuses[:3], [500, 500, 200], statuses)
        # Every attempt carried the same alert.
        self.assertEqual(len({raw for _, raw, _ in self.hook.requests[:3]}), 1)
        self.assertTrue(all(ct == "application/json" for _, _, ct in self.hook.requests))
        # Delivered once: no extra copies after the success.
        time.sleep(0.5)
        self.assertEqual(len([b for b in self.hook.events("late", app="Flaky")
                              if b["dedup_key"] == late["dedup_key"]]), 1)

    def test_snoozed_job_alerts_only_after_unsnooze(self):
        g = self.start()
        g.reserve("Sleepy", "Job", 1, "seconds")
        r = g.post("/snooze", {"app": "Sleepy", "component": "Job", "duration": 1,
                               "time_units": "hours"})
        self.assertEqual(r.status, 200, r)
        self.assertGreater(g.job("Sleepy", "Job")["snoozed_until"], time.time() + 3000)
        self.assertIsNone(self.hook.wait_for("late", app="Sleepy", timeout=3),
                          "snoozed job was alerted")
        self.assertIn("<td>SNOOZED</td>", g.get("/status").text)

        r = g.request("DELETE", "/snooze", {"app": "Sleepy", "component": "Job"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["success"], True)
        self.assertEqual(g.job("Sleepy", "Job")["snoozed_until"], 0)
        late = self.hook.wait_for("late", app="Sleepy", timeout=5)
        self.assertIsNotNone(late, "no alert after the snooze was cancelled; log:\n"
                             + g.log_tail())

    def test_snooze_survives_checkins(self):
        g = self.start()
        g.reserve("Sleepy2", "Job", 1, "seconds")
        g.post("/snooze", {"app": "Sleepy2", "component": "Job", "duration": 1,
                           "time_units": "hours"})
        self.assertEqual(g.checkin("Sleepy2", "Job").status, 200)
        self.assertGreater(g.job("Sleepy2", "Job")["snoozed_until"], 0)
        self.assertIsNone(self.hook.wait_for("late", app="Sleepy2", timeout=2.5))


if __name__ == "__main__":
    unittest.main()
