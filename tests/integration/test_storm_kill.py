"""kill -9 in the middle of an alert storm loses no intent and alerts no job twice
(issue 15, "What must not change").

200 reservations go late within a few seconds of each other: the dispatcher sends
the first alerts.storm_threshold (50) to the webhook one by one and folds the rest
into one storm notice, sent at the end of the storm window. gotel is killed with
SIGKILL once folding began (the window still open, the notice in the outbox and
not sent), restarted on the same data directory, and then:
- every job was alerted exactly once: its record counts one alert, and the alert
  log holds one dedup key for it (no job is evaluated late a second time);
- no intent is lost: every job's alert reached the webhook on its own or is logged
  `grouped` into a storm notice that the webhook received after the restart.
"""

import collections
import re
import unittest

from gotel_harness import GotelTestCase, wait_until

JOBS = 200
APP = "storm"


def job_name(i):
    return "job-%03d" % i


class StormKillTest(GotelTestCase):
    def alert_log(self, g):
        resp = g.get("/api/v1/alerts?app=%s&limit=1000" % APP)
        self.assertEqual(resp.status, 200, resp.text)
        return resp.json()["result"]

    def notices(self, rx):
        return [b for b in rx.events() if b.get("app") == "gotel" and b.get("component") == "alert-storm"]

    def folded_in_notices(self, rx):
        """How many alerts the delivered storm notices say they hold (their text
        counts them, docs/alerters.md "Alert storms")."""
        total = 0
        for n in self.notices(rx):
            m = re.search(r"(\d+) more alert\(s\)", n.get("message", ""))
            self.assertIsNotNone(m, n)
            total += int(m.group(1))
        return total

    def test_kill_9_during_a_storm_loses_no_intent_and_alerts_each_job_once(self):
        rx = self.receiver()
        env = {"GOTEL_WEBHOOK_URL": rx.url}
        # Only the webhook: the log alerter never folds, and no mail is set up.
        args = ["--set", "alerts.log_alerter=false", "--set", "alerts.storm_window_ms=15000",
                "--set", "alerts.retry_initial_ms=200", "--set", "alerts.retry_max_ms=500"]
        g = self.server(env=env, args=args)
        for i in range(JOBS):
            r = g.reserve(APP, job_name(i), 3, "seconds")
            self.assertEqual(r.status, 200, r.text)

        # Mid-storm: the single alerts are out and folding began (the notice
        # is in the outbox, growing), but the notice is not sent.
        def folding():
            return any(e.get("outcome") == "grouped" for e in self.alert_log(g))
        self.assertTrue(wait_until(folding, timeout=60), g.log_tail())
        self.assertEqual(self.notices(rx), [], "the storm window (15 s) should still be open")
        g.kill()
        before = {b["component"] for b in rx.events("late", app=APP)}

        # After the restart the rest of the wave opens a new window: a short
        # one, so that its notice follows soon.
        g.args[g.args.index("alerts.storm_window_ms=15000")] = "alerts.storm_window_ms=3000"
        g.start()

        def every_job_accounted():
            jobs = {j["component"]: j for j in g.user_jobs() if j["app"] == APP}
            if len(jobs) != JOBS or any(j.get("alerts", 0) < 1 for j in jobs.values()):
                return False
            log = self.alert_log(g)
            settled = {e["component"] for e in log
                       if e.get("kind") == "late" and e.get("outcome") in ("delivered", "grouped")}
            if len(settled) < JOBS:
                return False
            grouped = {e["component"] for e in log
                       if e.get("kind") == "late" and e.get("outcome") == "grouped"}
            return self.folded_in_notices(rx) >= len(grouped)

        self.assertTrue(wait_until(every_job_accounted, timeout=120),
                        "not every job's alert was delivered or grouped after the restart; log:\n"
                        + g.log_tail())

        jobs = {j["component"]: j for j in g.user_jobs() if j["app"] == APP}
        twice = sorted(c for c, j in jobs.items() if j.get("alerts") != 1)
        self.assertEqual(twice, [], "jobs alerted more than once (record's alert count)")

        log = self.alert_log(g)
        keys = collections.defaultdict(set)
        for e in log:
            if e.get("kind") == "late" and e.get("app", "").lower() == APP:
                keys[e["component"]].add(e["dedup_key"])
        self.assertEqual(len(keys), JOBS)
        several = sorted(c for c, k in keys.items() if len(k) != 1)
        self.assertEqual(several, [], "jobs with more than one late dedup key in the alert log")

        # Every job reached the webhook: on its own (before or after the kill)
        # or inside a storm notice delivered after the restart.
        delivered = {b["component"] for b in rx.events("late", app=APP)}
        grouped = {e["component"] for e in log
                   if e.get("kind") == "late" and e.get("outcome") == "grouped"}
        self.assertEqual(delivered | grouped, {job_name(i) for i in range(JOBS)})
        self.assertTrue(before <= delivered)
        # The notice pending in the outbox at the kill (and the one of the
        # window after the restart, when more than the threshold were left)
        # together hold every folded alert.
        self.assertTrue(grouped, "no alert was folded: this test saw no storm")
        self.assertEqual(self.folded_in_notices(rx), len(grouped))
        # The webhook never saw one job's alert under two dedup keys.
        by_job = collections.defaultdict(set)
        for b in rx.events("late", app=APP):
            by_job[b["component"]].add(b["dedup_key"])
        self.assertEqual(sorted(c for c, k in by_job.items() if len(k) != 1), [])


if __name__ == "__main__":
    unittest.main()
