"""gotelctl against the real binary: every subcommand, GOTELCTL_URL, errors
that fail the process, and `run -- <command>` reporting success and failure
with the exit code and the tail of the output."""

import json
import os
import subprocess
import unittest

from gotel_harness import GotelTestCase, gotel_bin


def gotelctl_bin():
    return os.path.join(os.path.dirname(gotel_bin()), "gotelctl")


class GotelctlTest(GotelTestCase):
    def setUp(self):
        super().setUp()
        self.assertTrue(os.access(gotelctl_bin(), os.X_OK), gotelctl_bin())
        self.g = self.server()

    def ctl(self, *args, expect=0, env=None, url=True):
        cmd = [gotelctl_bin()] + (["--url", "http://127.0.0.1:%d" % self.g.port] if url else [])
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("GOTEL")}
        full_env.update(env or {})
        r = subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=60,
                           env=full_env, stdin=subprocess.DEVNULL)
        if expect is not None:
            self.assertEqual(r.returncode, expect, "gotelctl %s: %s%s" % (args, r.stdout, r.stderr))
        return r

    def test_reserve_checkin_snooze_list_status_checkout(self):
        r = self.ctl("reserve", "billing", "nightly", "--every", "5", "--units", "minutes",
                     "--owner", "ops", "--tag", "prod", "--tag", "finance")
        self.assertIn("created billing/nightly", r.stdout)
        r = self.ctl("reserve", "billing", "nightly", "--every", "10")
        self.assertIn("updated billing/nightly", r.stdout)
        job = self.g.job("billing", "nightly")
        self.assertEqual((job["frequency"], job["tags"]), (10, []))

        r = self.ctl("checkin", "billing", "nightly", "--notes", "42 rows")
        self.assertEqual(r.stdout.strip(), "Application checked in: billing")
        r = self.ctl("snooze", "billing", "nightly", "--for", "2", "--units", "hours")
        self.assertEqual(r.stdout.strip(), "Application alerting paused: billing")
        r = self.ctl("list")
        lines = r.stdout.splitlines()
        self.assertTrue(lines[0].startswith("STATUS"), r.stdout)
        row = [l for l in lines if " billing " in l]
        self.assertEqual(len(row), 1, r.stdout)
        self.assertTrue(row[0].startswith("SNOOZED"), row)
        self.assertIn("10 minutes", row[0])
        r = self.ctl("list", "--status", "ok", "--app", "billing")
        self.assertEqual(len(r.stdout.splitlines()), 1, r.stdout)  # header only
        r = self.ctl("snooze", "billing", "nightly", "--cancel")
        self.assertIn("resumed", r.stdout)
        r = self.ctl("--json", "list", "--app", "billing")
        self.assertEqual([j["status"] for j in json.loads(r.stdout)["result"]], ["ok"])

        r = self.ctl("status")
        self.assertIn("(coordinator)", r.stdout)
        self.assertIn("OK", r.stdout)
        r = self.ctl("status", "billing", "nightly")
        self.assertTrue(r.stdout.startswith("OK  billing/nightly  every 10 minutes"), r.stdout)
        self.assertIn("checkins: 1", r.stdout)

        r = self.ctl("checkout", "billing", "nightly")
        self.assertEqual(r.stdout, "Application Removed [billing/nightly] \n")
        self.assertIsNone(self.g.job("billing", "nightly"))

    def test_errors_fail_the_process(self):
        r = self.ctl("checkin", "nope", "job", expect=1)
        self.assertIn("HTTP 404: no reservation nope/job", r.stderr)
        r = self.ctl("reserve", "a", "b", "--every", "0", expect=1)
        self.assertIn("HTTP 400: frequency must be at least 1", r.stderr)
        r = self.ctl("--url", "http://127.0.0.1:9", "status", url=False, expect=1)
        self.assertIn("cannot reach GoTel", r.stderr)
        self.ctl("list", "--status", "bogus", expect=None)
        self.assertNotEqual(self.ctl("list", "--status", "bogus", expect=None).returncode, 0)

    def test_url_from_gotelctl_url(self):
        self.g.reserve("envapp", "c", 1, "hours")
        r = self.ctl("list", env={"GOTELCTL_URL": "http://127.0.0.1:%d" % self.g.port}, url=False)
        self.assertIn("envapp", r.stdout)

    def test_run_reports_success_with_output_tail(self):
        self.g.reserve("cron", "ok-job", 1, "hours")
        r = self.ctl("run", "cron", "ok-job", "--", "sh", "-c", "echo line-one; echo to-stderr >&2")
        self.assertEqual(r.stdout, "line-one\n")
        self.assertEqual(r.stderr, "to-stderr\n")
        job = self.g.job("cron", "ok-job")
        self.assertEqual(job["number_of_checkins"], 1)
        self.assertIs(job["failing_sla"], False)
        pings = self.g.get("/api/v1/reservations/cron/ok-job/pings").json()["result"]
        self.assertTrue(pings[0]["notes"].startswith("exit 0 after "), pings)
        self.assertIn("line-one", pings[0]["notes"])

    def test_run_reports_failure_with_exit_code(self):
        self.g.reserve("cron", "bad-job", 1, "hours")
        r = self.ctl("run", "--tail", "20", "cron", "bad-job", "--", "sh", "-c",
                     "printf 'x%.0s' $(seq 100); echo; echo boom-at-the-end; exit 3", expect=3)
        self.assertIn("boom-at-the-end", r.stdout)
        job = self.g.job("cron", "bad-job")
        # A failure is not a checkin; with /fail the job is failing at once.
        self.assertEqual(job["number_of_checkins"], 0)
        fail_supported = self.g.post("/fail", {}).status != 404
        if fail_supported:
            self.assertIs(job["failing_sla"], True, job)
        r = self.ctl("run", "cron", "bad-job", "--", "/nonexistent/command", expect=127)
        self.assertIn("cannot run /nonexistent/command", r.stderr)

    def test_successful_run_after_a_failed_one_records_exit_status_zero(self):
        self.g.reserve("cron", "flaky", 1, "hours")
        self.ctl("run", "cron", "flaky", "--", "sh", "-c", "exit 3", expect=3)
        self.assertEqual(self.g.job("cron", "flaky")["last_exit_status"], 3)
        self.ctl("run", "cron", "flaky", "--", "true")
        job = self.g.job("cron", "flaky")
        self.assertIs(job["failed"], False, job)
        self.assertEqual(job["last_exit_status"], 0, job)
        # A checkin that sends no status clears it to unknown (-1).
        self.assertEqual(self.g.checkin("cron", "flaky").status, 200)
        self.assertEqual(self.g.job("cron", "flaky")["last_exit_status"], -1)
        # Only 0 is a checkin's exit status.
        r = self.g.checkin("cron", "flaky", exit_status=2)
        self.assertEqual(r.status, 400, r)
        self.assertEqual(self.g.job("cron", "flaky")["last_exit_status"], -1)


if __name__ == "__main__":
    unittest.main()
