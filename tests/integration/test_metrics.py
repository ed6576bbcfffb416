"""GET /metrics on the real binary: the text exposition format 0.0.4 checked
line by line (always runs), and a real Prometheus (Debian's `prometheus`)
scraping gotel on 127.0.0.1 and answering a query for a gotel metric (skipped
when the binary is absent; scripts/install-deps installs it)."""

import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.parse
import urllib.request

from gotel_harness import HOST, GotelTestCase, free_port, wait_until

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\\\|\\"|\\n)*"'
SAMPLE = re.compile(r"^(%s)(\{(?:%s)(?:,%s)*\})? (-?[0-9.e+]+|NaN|[+-]Inf)$" % (NAME, LABEL, LABEL))
LABEL_ITEM = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\\\|\\"|\\n)*)"')


def unescape(value):
    return re.sub(r"\\(.)", lambda m: {"n": "\n"}.get(m.group(1), m.group(1)), value)


def parse_exposition(text):
    """{(name, frozenset(labels)): value}, asserting the format on the way."""
    samples, types, seen_families = {}, {}, []
    assert text.endswith("\n"), "exposition must end with a line feed"
    for line in text.splitlines():
        if line.startswith("# HELP "):
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            assert kind in ("counter", "gauge", "histogram", "summary", "untyped"), line
            assert name not in types, "family %s declared twice" % name
            types[name] = kind
            seen_families.append(name)
            continue
        m = SAMPLE.match(line)
        assert m, "not a sample line: %r" % line
        name = m.group(1)
        assert name in types, "sample before its # TYPE: %r" % line
        assert seen_families[-1] == name, "family %s is not contiguous" % name
        labels = frozenset((k, unescape(v)) for k, v in LABEL_ITEM.findall(m.group(2) or ""))
        assert (name, labels) not in samples, "duplicate sample %r" % line
        samples[(name, labels)] = float(m.group(3))
    return samples, types


def job_labels(app, component):
    return frozenset({("app", app), ("component", component)})


class MetricsTest(GotelTestCase):
    def setUp(self):
        super().setUp()
        # Per-reservation series only for reservations selected by tag (issue 15 §7).
        # The node's own rows are checked in once at the start, then not for
        # a day: their checkins count in gotel_checkins_total (self rows).
        self.g = self.server(env={"GOTEL_METRICS_PER_RESERVATION_TAGS": "watched"},
                             args=["--set", "server.self_checkin_seconds=86400"])

    def scrape(self):
        r = self.g.get("/metrics")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers["content-type"], "text/plain; version=0.0.4; charset=utf-8")
        return parse_exposition(r.text)

    def test_exposition_format_and_values(self):
        g = self.g
        weird = 'we"ird\\app'
        w = {"tags": ["watched"]}
        g.reserve("ok-app", "nightly", 1, "hours", **w)
        g.reserve("late-app", "hourly", 1, "seconds", **w)
        g.reserve("paused-app", "weekly", 1, "hours", **w)
        g.reserve(weird, "c", 1, "hours", **w)
        g.reserve("unwatched", "c", 1, "hours")
        self.assertEqual(g.post("/snooze", {"app": "paused-app", "component": "weekly",
                                            "duration": 1, "time_units": "hours"}).status, 200)
        before = time.time()
        for _ in range(3):
            self.assertEqual(g.checkin("ok-app", "nightly").status, 200)
        self.assertTrue(wait_until(lambda: g.job("late-app", "hourly")["failing_sla"], timeout=5))
        # Counted late once its actor marks it (milliseconds after the deadline).
        self.assertTrue(wait_until(lambda: g.get("/api/v1/status").json()["late"] == 1, timeout=5))

        samples, types = self.scrape()
        ok, late = job_labels("ok-app", "nightly"), job_labels("late-app", "hourly")
        paused = job_labels("paused-app", "weekly")
        self.assertEqual(samples[("gotel_reservation_up", ok)], 1)
        self.assertEqual(samples[("gotel_reservation_late", ok)], 0)
        self.assertEqual(samples[("gotel_reservation_up", late)], 0)
        self.assertEqual(samples[("gotel_reservation_late", late)], 1)
        self.assertEqual(samples[("gotel_reservation_paused", paused)], 1)
        self.assertEqual(samples[("gotel_reservation_paused", ok)], 0)
        self.assertEqual(samples[("gotel_reservation_checkins_total", ok)], 3)
        last = samples[("gotel_reservation_last_checkin_timestamp_seconds", ok)]
        self.assertAlmostEqual(last, before, delta=5)
        self.assertEqual(samples[("gotel_reservation_last_checkin_timestamp_seconds", late)], 0)
        self.assertEqual(samples[("gotel_reservation_period_seconds", ok)], 3600)
        # Label values come back exactly after unescaping.
        self.assertEqual(samples[("gotel_reservation_up", job_labels(weird, "c"))], 1)
        own = [j for j in g.listing() if j["app"] == "gotel"]
        self.assertEqual([j["number_of_checkins"] for j in own], [1, 1], own)
        self.assertEqual(samples[("gotel_checkins_total", frozenset())], 3 + 2,
                         "3 and the node's own two rows' first checkins")
        self.assertEqual(samples[("gotel_coordinator", frozenset())], 1)
        self.assertEqual(samples[("gotel_reservations", frozenset())], len(g.listing()))
        self.assertNotIn(("gotel_reservation_up", job_labels("unwatched", "c")), samples,
                         "no series for a reservation without a selected tag")
        by_state = lambda s: samples[("gotel_reservations_by_state", frozenset({("state", s)}))]
        self.assertEqual((by_state("ok"), by_state("late"), by_state("paused")), (3 + 2, 1, 1),
                         "the node's own two rows are ok")
        self.assertEqual(samples[("gotel_metrics_per_reservation", frozenset())], 4)
        for name in ["gotel_alerts_sent_total", "gotel_alert_failures_total", "gotel_outbox_depth"]:
            self.assertIn((name, frozenset()), samples)
        self.assertEqual(types["gotel_checkins_total"], "counter")
        self.assertEqual(types["gotel_reservation_up"], "gauge")

        g.checkin("ok-app", "nightly")
        samples, _ = self.scrape()
        self.assertEqual(samples[("gotel_checkins_total", frozenset())], 4 + 2)

    @unittest.skipUnless(shutil.which("prometheus"),
                         "prometheus is not installed (scripts/install-deps installs it)")
    def test_real_prometheus_scrapes_gotel(self):
        self.g.reserve("scraped", "job", 5, "minutes", tags=["watched"])
        self.g.checkin("scraped", "job")
        tmp = tempfile.mkdtemp(prefix="gotel-prom-")
        self.addCleanup(shutil.rmtree, tmp, True)
        config = os.path.join(tmp, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                    "scrape_configs:\n  - job_name: gotel\n    static_configs:\n"
                    "      - targets: ['%s:%d']\n" % (HOST, self.g.port))
        port = free_port()
        log = open(os.path.join(tmp, "prometheus.log"), "wb")
        self.addCleanup(log.close)
        proc = subprocess.Popen(
            ["prometheus", "--config.file=" + config, "--storage.tsdb.path=" + os.path.join(tmp, "db"),
             "--web.listen-address=%s:%d" % (HOST, port), "--log.level=warn"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

        def stop():
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        self.addCleanup(stop)

        def query(expr):
            url = "http://%s:%d/api/v1/query?query=%s" % (HOST, port, urllib.parse.quote(expr))
            try:
                with urllib.request.urlopen(url, timeout=5) as r:
                    doc = json.load(r)
            except OSError:
                return []
            return doc.get("data", {}).get("result", []) if doc.get("status") == "success" else []

        up = wait_until(lambda: query('gotel_reservation_up{app="scraped",component="job"}'),
                        timeout=60, interval=0.5)
        with open(os.path.join(tmp, "prometheus.log"), "rb") as f:
            prom_log = f.read().decode("utf-8", "replace")[-2000:]
        self.assertTrue(up, "Prometheus never saw gotel_reservation_up; log:\n" + prom_log)
        self.assertEqual(up[0]["value"][1], "1")
        self.assertEqual(up[0]["metric"]["job"], "gotel")
        health = wait_until(lambda: query('up{job="gotel"}'), timeout=10)
        self.assertEqual(health[0]["value"][1], "1", health)
        checkins = wait_until(lambda: query("gotel_checkins_total"), timeout=10)
        self.assertGreaterEqual(float(checkins[0]["value"][1]), 1)


if __name__ == "__main__":
    unittest.main()
