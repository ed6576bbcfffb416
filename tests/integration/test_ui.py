"""The web UI at /status end to end in headless Chromium (Debian's `chromium`):
the page's script loads the jobs from the management API, renders their
states, opens a job's detail with its ping history, and filters; a screenshot
is saved to tests/integration/artifacts/status.png. Skipped when chromium is
absent (scripts/install-deps installs it)."""

import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest

from gotel_harness import GotelTestCase, wait_until

ARTIFACTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "artifacts")
CHROMIUM = shutil.which("chromium")


@unittest.skipUnless(CHROMIUM, "chromium is not installed (scripts/install-deps installs it)")
class WebUiTest(GotelTestCase):
    def setUp(self):
        super().setUp()
        self.g = g = self.server()
        g.reserve("billing", "nightly-invoices", 5, "minutes", owner="finance-team",
                  tags=["prod", "finance"])
        for i in range(3):
            self.assertEqual(g.checkin("billing", "nightly-invoices",
                                       notes="run %d ok" % i).status, 200)
        g.reserve("backup", "db-snapshot", 1, "seconds", owner="storage-team", tags=["prod"])
        g.reserve("etl", "warehouse-load", 1, "hours", owner="data-team", tags="staging")
        g.reserve("reports", "<b>weekly</b>", 7, "days", owner="bi-team")
        self.assertEqual(g.post("/snooze", {"app": "etl", "component": "warehouse-load",
                                            "duration": 2, "time_units": "hours"}).status, 200)
        self.assertTrue(wait_until(lambda: g.job("backup", "db-snapshot")["failing_sla"],
                                   timeout=5))
        self.profile = tempfile.mkdtemp(prefix="gotel-chromium-")

    def tearDown(self):
        shutil.rmtree(self.profile, ignore_errors=True)
        super().tearDown()

    def chromium(self, url, *extra):
        """Runs headless Chromium on a fresh profile; the page's timers run on a
        virtual time budget (no sleeping here for the script to finish)."""
        cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
               "--no-first-run", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--disable-dev-shm-usage", "--user-data-dir=" + self.profile,
               "--virtual-time-budget=5000", "--window-size=1400,1000"] + list(extra) + [url]
        r = subprocess.run(cmd, capture_output=True, timeout=120, stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 0, r.stderr.decode("utf-8", "replace")[-2000:])
        return r.stdout.decode("utf-8", "replace")

    def url(self, suffix=""):
        return "http://127.0.0.1:%d/status%s" % (self.g.port, suffix)

    def rows(self, dom):
        """(status word, data-status) of every row the script rendered."""
        return re.findall(r'<tr class="js (OK|FAILING|SNOOZED)[^"]*" data-i="\d+" '
                          r'data-status="(ok|late|paused)">', dom)

    def test_live_table_states_and_detail(self):
        dom = self.chromium(self.url("#job=billing/nightly-invoices"), "--dump-dom")
        self.assertIn('data-loaded="true"', dom, "the page script never loaded the jobs")
        self.assertIn("live, updated", dom)
        states = self.rows(dom)
        # Two jobs OK, and the node's own rows gotel/coordinator and gotel/gotel-1.
        self.assertEqual(sorted(states), [("FAILING", "late"), ("OK", "ok"), ("OK", "ok"),
                                          ("OK", "ok"), ("OK", "ok"), ("SNOOZED", "paused")])
        for text in ["nightly-invoices", "db-snapshot", "warehouse-load", "finance-team",
                     '<span class="tag">finance</span>']:
            self.assertIn(text, dom)
        # The original's columns and links stay.
        for column in ["JobID", "App", "Component", "Owner", "Frequency", "Time Units",
                       "Last Checkin", "Time Since Last Checkin", "Num Checkins", "Status"]:
            self.assertIn("<th>%s</th>" % column, dom)
        self.assertIn('href="/badguests"', dom)
        self.assertIn('href="/nodes"', dom)
        # Names are escaped, not interpreted.
        self.assertNotIn("<b>weekly</b>", dom)
        self.assertIn("&lt;b&gt;weekly&lt;/b&gt;", dom)
        # Counts and the detail panel with the ping history, newest first.
        self.assertRegex(dom, r'id="n-late">1<')
        self.assertRegex(dom, r'id="n-paused">1<')
        detail = dom[dom.index('id="detail"'):dom.index('id="jobs"')]
        self.assertIn("billing / nightly-invoices", detail)
        notes = re.findall(r"run (\d) ok", detail)
        self.assertEqual(notes, ["2", "1", "0"])
        self.assertIn("No alerts.", detail)

    def test_search_filter_from_the_url(self):
        dom = self.chromium(self.url("?q=warehouse"), "--dump-dom")
        self.assertEqual(self.rows(dom), [("SNOOZED", "paused")])

    def test_a_bad_fragment_or_query_does_not_stop_the_page(self):
        # Issue 14 section 7: decodeURIComponent threw on %E0%A4%A and the
        # script stopped (no live table, no actions).
        dom = self.chromium(self.url("?q=%E0%A4%A#job=%E0%A4%A/x"), "--dump-dom")
        self.assertIn('data-loaded="true"', dom, "the page script stopped on a bad fragment")
        self.assertEqual(len(self.rows(dom)), 4 + 2, "the jobs and the node's own two rows")

    def test_html_pages_forbid_framing_sniffing_and_foreign_scripts(self):
        # The page above runs under this policy in Chromium, so the inline
        # script's hash in it is right; here: every HTML page sends it.
        for page in ["/status", "/status?plain=1", "/badguests", "/nodes"]:
            r = self.g.get(page)
            self.assertEqual(r.status, 200, page)
            csp = r.headers.get("content-security-policy", "")
            self.assertIn("default-src 'self'", csp, page)
            self.assertIn("frame-ancestors 'none'", csp, page)
            self.assertRegex(csp, r"script-src 'self' 'sha256-[A-Za-z0-9+/=]{44}'", page)
            self.assertEqual(r.headers.get("x-content-type-options"), "nosniff", page)
            self.assertEqual(r.headers.get("x-frame-options"), "DENY", page)

    def test_pages_sorts_and_filters_on_the_server(self):
        # Issue 15 section 7: the page shows one page of rows, asked of the
        # server with its order and filters, and the counts from the counters.
        g = self.g
        for i in range(60):
            g.reserve("bulk", "job-%02d" % i, 1, "hours", tags=["bulk"] if i % 2 else [])
        dom = self.chromium(self.url("?sort=job_id.desc"), "--dump-dom")
        self.assertIn('data-loaded="true"', dom)
        ids = [int(x) for x in re.findall(r'data-status="(?:ok|late|paused)"><td>(\d+)</td>', dom)]
        self.assertEqual(len(ids), 50, "one page of 50 rows")
        # 4 jobs of setUp, the node's own two rows (job ids 1 and 2), 60 here.
        self.assertEqual(ids, list(range(66, 16, -1)), "newest job id first, from the server")
        self.assertIn('id="range" class="muted">1-50 of 66<', dom)
        self.assertRegex(dom, r'id="n-all">66<')
        self.assertNotIn('id="next" type="button" class="small" disabled', dom)
        # Filters and search go to the server too.
        dom = self.chromium(self.url("?tag=bulk&q=job-1&limit=25"), "--dump-dom")
        names = re.findall(r'<td>bulk</td><td>(job-\d+)</td>', dom)
        self.assertEqual(names, ["job-11", "job-13", "job-15", "job-17", "job-19"])
        self.assertIn('1-5 of 5<', dom)
        dom = self.chromium(self.url("?status=paused"), "--dump-dom")
        self.assertEqual(self.rows(dom), [("SNOOZED", "paused")])

    def test_screenshot(self):
        os.makedirs(ARTIFACTS, exist_ok=True)
        path = os.path.join(ARTIFACTS, "status.png")
        if os.path.exists(path):
            os.unlink(path)
        self.chromium(self.url("#job=billing/nightly-invoices"), "--screenshot=" + path)
        self.assertTrue(os.path.exists(path))
        with open(path, "rb") as f:
            head = f.read(24)
        self.assertEqual(head[:8], b"\x89PNG\r\n\x1a\n")
        width = int.from_bytes(head[16:20], "big")
        self.assertEqual(width, 1400)
        self.assertGreater(os.path.getsize(path), 20000, "screenshot looks blank")
        print("\nscreenshot: " + path)


if __name__ == "__main__":
    unittest.main()
