"""Reading at scale on the real binary (issue 15 section 7): the management
API pages with a cursor and a total, filters and sorts on the server; the
counts per state come from counters (right after a restart too); /metrics
stays the same size however many reservations there are unless some are
selected by tag, and is capped; GET /reservation (and /status?plain=1) are
streamed with chunked transfer coding and list the same rows as before."""

import http.client
import json
import re
import socket
import unittest

from gotel_harness import HOST, GotelTestCase, wait_until

# Writes without an fsync each: thousands of reservations in a few seconds.
FAST = {"GOTEL_SERVER_SYNC_WRITES": "false"}


def bulk_reserve(port, bodies):
    """POST /reservation for each body on one keep-alive connection."""
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        for body in bodies:
            conn.request("POST", "/reservation", body=json.dumps(body),
                         headers={"Content-Type": "application/json"})
            r = conn.getresponse()
            data = r.read()
            assert r.status == 200, (body, r.status, data)
    finally:
        conn.close()


def job(i, **extra):
    body = {"app": "app-%d" % (i % 5), "component": "comp-%04d" % i, "frequency": 1,
            "time_units": "hours", "owner": "team-%d" % (i % 3)}
    body.update(extra)
    return body


def key(j):
    return (j["app"].lower(), j["component"].lower())


# Every node lists and checks in its own rows (gotel/coordinator and
# gotel/<node id>, docs/cluster.md): they count like any reservation.
OWN = 2


class ReadingAtScaleTest(GotelTestCase):
    def pages(self, g, query, limit):
        """Every page of `query`, following next_cursor; (rows, totals, pages)."""
        rows, totals, cursor, pages = [], set(), None, 0
        for _ in range(1000):
            path = "/api/v1/reservations?limit=%d%s%s" % (
                limit, "&" + query if query else "", "&cursor=" + cursor if cursor else "")
            r = g.get(path)
            self.assertEqual(r.status, 200, r)
            doc = r.json()
            self.assertLessEqual(len(doc["result"]), limit)
            self.assertEqual(doc["limit"], limit)
            rows += doc["result"]
            totals.add(doc["total"])
            pages += 1
            cursor = doc["next_cursor"]
            if cursor is None:
                return rows, totals, pages
        self.fail("the pages never ended")

    def test_cursor_pages_totals_filters_and_counts(self):
        g = self.server(env=FAST)
        n = 1200
        bulk_reserve(g.port, [job(i, tags=["prod"] if i % 4 == 0 else []) for i in range(n)])
        for i in range(0, 30, 3):  # ten paused
            self.assertEqual(g.post("/snooze", {"app": "app-%d" % (i % 5), "component": "comp-%04d" % i,
                                                "duration": 1, "time_units": "hours"}).status, 200)

        rows, totals, pages = self.pages(g, "", 100)
        self.assertEqual(pages, (n + OWN + 99) // 100)
        self.assertEqual(len(rows), n + OWN)
        self.assertEqual(len({key(j) for j in rows}), n + OWN, "each reservation exactly once")
        self.assertEqual(totals, {n + OWN})
        self.assertEqual([key(j) for j in rows], sorted(key(j) for j in rows), "name order")

        # An old client (no limit, no cursor) gets the first page and a cursor.
        old = g.get("/api/v1/reservations").json()
        self.assertTrue(old["success"])
        self.assertEqual(len(old["result"]), 500)
        self.assertEqual(old["total"], n + OWN)
        self.assertIsNotNone(old["next_cursor"])

        # Sorted by job id, newest first, across pages.
        rows, totals, _ = self.pages(g, "sort=job_id&order=desc", 250)
        ids = [j["job_id"] for j in rows]
        self.assertEqual(ids, sorted(ids, reverse=True))
        self.assertEqual(len(set(ids)), n + OWN)
        self.assertEqual(totals, {n + OWN})

        # Filters: state, tag, app, search; each with its total.
        rows, totals, _ = self.pages(g, "status=paused", 4)
        self.assertEqual(sorted(j["component"] for j in rows),
                         ["comp-%04d" % i for i in range(0, 30, 3)])
        self.assertEqual(totals, {10})
        rows, totals, _ = self.pages(g, "tag=prod", 77)
        self.assertEqual(len(rows), n // 4)
        self.assertEqual(totals, {n // 4})
        self.assertTrue(all("prod" in j["tags"] for j in rows))
        rows, totals, _ = self.pages(g, "app=APP-2&sort=name&order=desc", 50)
        self.assertEqual(len(rows), n // 5)
        self.assertEqual(totals, {n // 5})
        self.assertTrue(all(j["app"] == "app-2" for j in rows))
        rows, totals, _ = self.pages(g, "q=comp-011", 3)
        self.assertEqual(sorted(j["component"] for j in rows),
                         ["comp-%04d" % i for i in range(110, 120)])
        self.assertEqual(totals, {10})

        bad = g.get("/api/v1/reservations?sort=job_id&cursor=" + old["next_cursor"])
        self.assertEqual(bad.status, 400, bad)
        self.assertIn("cursor", bad.json()["message"])
        self.assertEqual(g.get("/api/v1/reservations?limit=0").status, 400)

        # Counts per state, from the counters, and the same after a restart.
        status = g.get("/api/v1/status").json()
        self.assertEqual((status["reservations"], status["ok"], status["late"], status["paused"]),
                         (n + OWN, n + OWN - 10, 0, 10))
        self.assertEqual((status["failed"], status["running"]), (0, 0))
        g.stop()
        g.start()
        again = g.get("/api/v1/status").json()
        self.assertEqual((again["reservations"], again["ok"], again["late"], again["paused"]),
                         (n + OWN, n + OWN - 10, 0, 10), "restore counts every reservation once")
        # A checkout and a late job move the counts.
        self.assertEqual(g.post("/checkout", {"app": "app-1", "component": "comp-0001"}).status, 200)
        g.reserve("quick", "late", 1, "seconds")
        self.assertTrue(wait_until(
            lambda: g.get("/api/v1/status").json()["late"] == 1, timeout=10))
        status = g.get("/api/v1/status").json()
        self.assertEqual(status["reservations"], n + OWN)
        self.assertEqual(g.get("/api/v1/reservations?status=late").json()["total"], 1)

    def test_late_pages_read_only_the_late_ones_and_match_a_full_pass(self):
        # ?status=late in key order pages through the coordinator's late keys
        # (no scan); with sort=job_id it takes the full pass. Both must agree.
        g = self.server(env=FAST)
        ok = [job(i) for i in range(2000)]
        late = [job(i, frequency=1, time_units="seconds") for i in range(2000, 2031)]
        bulk_reserve(g.port, ok + late)
        for j in late[:3]:  # late but snoozed: paused, not late
            self.assertEqual(g.post("/snooze", {"app": j["app"], "component": j["component"],
                                                "duration": 1, "time_units": "hours"}).status, 200)
        self.assertEqual(g.post("/checkout", {"app": late[3]["app"],
                                              "component": late[3]["component"]}).status, 200)
        want = sorted(key(j) for j in late[4:])
        self.assertTrue(wait_until(
            lambda: g.get("/api/v1/status").json()["late"] == len(want), timeout=30))
        rows, totals, pages = self.pages(g, "status=late", 5)
        self.assertEqual([key(r) for r in rows], want)
        self.assertEqual(totals, {len(want)})
        self.assertEqual(pages, (len(want) + 4) // 5)
        full, _, _ = self.pages(g, "status=late&sort=job_id", 50)
        self.assertEqual(sorted(key(r) for r in full), want)
        # A late job that checks in leaves the late pages at once.
        j = late[10]
        self.assertEqual(g.post("/checkin", {"app": j["app"], "component": j["component"]}).status,
                         200)
        rows, _, _ = self.pages(g, "status=late", 7)
        self.assertNotIn(key(j), [key(r) for r in rows])

    def metrics_size(self, g):
        r = g.get("/metrics")
        self.assertEqual(r.status, 200)
        return r.text

    def test_metrics_do_not_grow_with_reservations_unless_selected(self):
        g = self.server(env=FAST)
        bulk_reserve(g.port, [job(i) for i in range(10)])
        small = self.metrics_size(g)
        bulk_reserve(g.port, [job(i) for i in range(10, 2000)])
        big = self.metrics_size(g)
        self.assertFalse("gotel_reservation_up" in big, "no per-reservation series by default")
        self.assertIn("gotel_reservations %d\n" % (2000 + OWN), big)
        self.assertIn('gotel_reservations_by_state{state="ok"} %d\n' % (2000 + OWN), big)
        # Only the counts' digits differ.
        self.assertLess(abs(len(big) - len(small)), 64, (len(small), len(big)))

        # Selected by tag, and capped.
        tagged = self.server(env=dict(FAST, GOTEL_METRICS_PER_RESERVATION_TAGS="critical, db",
                                      GOTEL_METRICS_PER_RESERVATION_MAX="2"))
        bulk_reserve(tagged.port, [job(i) for i in range(50)])
        tagged.reserve("pay", "ledger", 1, "hours", tags=["critical"])
        text = self.metrics_size(tagged)
        self.assertIn('gotel_reservation_up{app="pay",component="ledger"} 1\n', text)
        self.assertEqual(text.count("gotel_reservation_up{"), 1)
        self.assertIn("gotel_metrics_per_reservation_capped 0\n", text)
        tagged.reserve("db", "backup", 1, "hours", tags=["DB"])
        tagged.reserve("db", "vacuum", 1, "hours", tags=["db", "critical"])
        text = self.metrics_size(tagged)
        self.assertEqual(text.count("gotel_reservation_up{"), 2, "at most per_reservation_max")
        self.assertIn("gotel_metrics_per_reservation 2\n", text)
        self.assertIn("gotel_metrics_per_reservation_capped 1\n", text)

    def test_get_reservation_is_streamed_and_lists_as_before(self):
        g = self.server(env=FAST)
        n = 3000
        bulk_reserve(g.port, [job(i) for i in range(10)])
        # A listing that fits one piece goes out whole, with Content-Length, as before.
        small = g.get("/reservation")
        self.assertEqual(small.status, 200)
        self.assertEqual(int(small.headers["content-length"]), len(small.body))
        self.assertNotIn("transfer-encoding", small.headers)
        self.assertEqual(len(small.json()["result"]), 10 + OWN)
        bulk_reserve(g.port, [job(i) for i in range(10, n)])
        conn = http.client.HTTPConnection(HOST, g.port, timeout=30)
        try:
            # Checkins on one connection: ties and order by last checkin.
            for i in range(0, n, 7):
                conn.request("POST", "/checkin", body=json.dumps(
                    {"app": "app-%d" % (i % 5), "component": "comp-%04d" % i}),
                    headers={"Content-Type": "application/json"})
                r = conn.getresponse()
                r.read()
                self.assertEqual(r.status, 200)
            conn.request("GET", "/reservation")
            r = conn.getresponse()
            self.assertEqual(r.status, 200)
            self.assertEqual(r.getheader("Transfer-Encoding"), "chunked")
            self.assertIsNone(r.getheader("Content-Length"))
            self.assertEqual(r.getheader("Content-Type"), "application/json")
            body = r.read()
            # The connection stays usable after a streamed answer.
            conn.request("GET", "/")
            self.assertEqual(conn.getresponse().read(), b'{"message":"A-OK!","success":true}')
        finally:
            conn.close()
        self.assertTrue(body.startswith(b'{"result":[{"job_id":'), body[:80])
        self.assertTrue(body.endswith(b'],"success":true}'), body[-80:])
        doc = json.loads(body)
        rows = doc["result"]
        self.assertEqual(len(rows), n + OWN)
        self.assertEqual(list(doc), ["result", "success"])
        # Newest checkin first, never checked in last, ties in name order: as
        # the original's stable sort over the store's key order.
        expect = sorted(rows, key=lambda j: key(j))
        expect.sort(key=lambda j: -j["last_checkin"] * 1000)  # stable
        checked = [j for j in rows if j["last_checkin"]]
        self.assertEqual(len(checked), len(range(0, n, 7)) + OWN)
        self.assertEqual([j["last_checkin"] for j in rows],
                         [j["last_checkin"] for j in expect])
        never = [key(j) for j in rows if not j["last_checkin"]]
        self.assertEqual(never, sorted(never))
        # Each element as the management API shows it (less its status).
        managed = {}
        for page in range(1000):
            d = g.get("/api/v1/reservations?limit=1000" +
                      ("&cursor=" + d["next_cursor"] if page else "")).json()
            for j in d["result"]:
                managed[key(j)] = j
            if d["next_cursor"] is None:
                break
        for j in rows[:50] + rows[-50:]:
            m = dict(managed[key(j)])
            self.assertEqual(m.pop("status"), "ok")
            m["time_since_last_checkin"] = j["time_since_last_checkin"]
            self.assertEqual(list(m), list(j), "same keys, same order")
            self.assertEqual(m, j)

        # The original's bare table, streamed too, every row.
        plain = g.get("/status?plain=1")
        self.assertEqual(plain.headers.get("transfer-encoding"), "chunked")
        self.assertEqual(plain.text.count("<tr class="), n + OWN)
        self.assertTrue(plain.text.endswith("</table>\n</body></html>\n"))
        # The web UI's page renders only its first page of rows.
        ui = g.get("/status")
        self.assertEqual(ui.status, 200)
        self.assertEqual(len(re.findall(r'<tr class="(?:OK|FAILING|SNOOZED)">', ui.text)), 50)

    def test_http_1_0_gets_the_listing_unframed(self):
        g = self.server(env=FAST)
        bulk_reserve(g.port, [job(i) for i in range(300)])
        with socket.create_connection((HOST, g.port), timeout=10) as s:
            s.sendall(b"GET /reservation HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        self.assertIn(b"HTTP/1.0 200", head)
        self.assertNotIn(b"chunked", head.lower())
        self.assertEqual(len(json.loads(body)["result"]), 300 + OWN)


if __name__ == "__main__":
    unittest.main()
