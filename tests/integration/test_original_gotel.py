"""Behaviour the original GoTel shows that clients may rely on
(shared/reference/gotel-api.md): GET /reservation's order."""

import time
import unittest

from gotel_harness import GotelTestCase, wait_until


class OriginalGotelTest(GotelTestCase):
    def test_listing_is_newest_checkin_first(self):
        g = self.server()
        for name in ("a", "b", "c", "never"):
            g.reserve("order", name, 1, "hours")
        # Checkins at distinct milliseconds, oldest first: a, c, b.
        for name in ("a", "c", "b"):
            self.assertEqual(g.checkin("order", name).status, 200)
            at_ms = g.get("/api/v1/reservations/order/%s/pings" % name).json()["result"][0]["at_ms"]
            wait_until(lambda: time.time() * 1000 > at_ms + 1, timeout=5)
        names = [j["component"] for j in g.user_jobs() if j["app"] == "order"]
        self.assertEqual(names, ["b", "c", "a", "never"])
        # The management API keeps its own order (creation).
        managed = g.get("/api/v1/reservations?app=order").json()
        managed = managed.get("result", managed.get("reservations", managed))
        self.assertEqual([j["component"] for j in managed], ["a", "b", "c", "never"])


if __name__ == "__main__":
    unittest.main()
