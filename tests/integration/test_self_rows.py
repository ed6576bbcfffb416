"""The node's own reservation rows (docs/cluster.md, "The cluster's own rows";
issue 13 section 5), with the real gotel binary on 127.0.0.1: a single node
lists gotel/coordinator and gotel/<node id> and keeps checking them in, finds
them again after a restart (no duplicate), brings one back after a user's
checkout; in a cluster gotel/coordinator is checked in by the coordinator and
moves to the new one after a failover, and gotel/worker by the workers."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gotel_harness import GotelTestCase, wait_until  # noqa: E402
from test_cluster import ClusterTestCase  # noqa: E402

FAST = ["--set", "server.self_checkin_seconds=1"]


def rows_of(node):
    """The node's gotel/* rows by component."""
    return {j["component"]: j for j in node.listing() if j["app"] == "gotel"}


def newest_note(node, component):
    r = node.get("/api/v1/reservations/gotel/%s/pings?limit=1" % component)
    if r.status != 200 or not r.json()["result"]:
        return None
    return r.json()["result"][0]["notes"]


class SingleNode(GotelTestCase):
    def test_default_rows_are_the_originals_five_minutes(self):
        g = self.server()
        self.assertTrue(wait_until(lambda: set(rows_of(g)) == {"coordinator", "gotel-1"}, 10),
                        rows_of(g))
        for comp, job in rows_of(g).items():
            # The original's element, in its key order, and its 5 minutes.
            self.assertEqual(list(job)[:13],
                             ["job_id", "owner", "notify", "alert_msg", "app", "component",
                              "frequency", "time_units", "last_checkin", "last_checkin_str",
                              "time_since_last_checkin", "failing_sla", "number_of_checkins"])
            self.assertEqual((job["frequency"], job["time_units"]), (5, "minutes"), comp)
            self.assertEqual(job["owner"], "gotel")
            self.assertFalse(job["failing_sla"])
            self.assertGreaterEqual(job["number_of_checkins"], 1, job)

    def test_lists_and_checks_in_its_rows_across_a_restart_and_a_checkout(self):
        g = self.server(args=["--set", "server.node_id=solo"] + FAST)
        self.assertTrue(wait_until(lambda: set(rows_of(g)) == {"coordinator", "solo"}, 10),
                        rows_of(g))
        first = rows_of(g)
        self.assertEqual((first["solo"]["frequency"], first["solo"]["time_units"]),
                         (10, "seconds"), "10 periods of server.self_checkin_seconds")
        # Checked in on its timer: the count and the last checkin advance.
        advanced = wait_until(
            lambda: all(rows_of(g)[c]["number_of_checkins"] >= first[c]["number_of_checkins"] + 2
                        and rows_of(g)[c]["last_checkin"] > first[c]["last_checkin"]
                        for c in first), 15)
        self.assertTrue(advanced, (first, rows_of(g)))
        self.assertEqual(newest_note(g, "coordinator"), "checked in by solo (coordinator)")

        # Restart: the stored rows are found and checked in, not made again.
        before = rows_of(g)
        g.stop()
        g.start()
        self.assertTrue(wait_until(
            lambda: rows_of(g)["solo"]["number_of_checkins"]
            > before["solo"]["number_of_checkins"], 15), rows_of(g))
        after = rows_of(g)
        self.assertEqual(set(after), {"coordinator", "solo"}, "no duplicate after a restart")
        for c in after:
            self.assertEqual(after[c]["job_id"], before[c]["job_id"], c)
        self.assertEqual(len([j for j in g.listing() if j["app"].lower() == "gotel"]), 2)

        # A checkout is allowed and the row comes back at the next checkin.
        r = g.post("/checkout", {"app": "gotel", "component": "solo"})
        self.assertEqual(r.status, 200, r)
        back = wait_until(lambda: rows_of(g).get("solo"), 15)
        self.assertTrue(back, rows_of(g))
        self.assertLess(back["number_of_checkins"], after["solo"]["number_of_checkins"],
                        "a new row, not the old one")

    def test_rows_take_no_slot_of_the_reservation_limits(self):
        g = self.server(args=["--set", "server.max_reservations=1",
                              "--set", "server.max_reservations_per_app=1"] + FAST)
        self.assertTrue(wait_until(lambda: len(rows_of(g)) == 2, 10), rows_of(g))
        self.assertEqual(g.reserve("billing", "export").status, 200,
                         "the one reservation the limit allows")
        r = g.post("/reservation", {"app": "billing", "component": "import", "frequency": 1,
                                    "time_units": "hours"})
        self.assertEqual(r.status, 403, r)
        self.assertEqual(len(g.listing()), 3, "both rows and the user's one")


class Cluster(ClusterTestCase):
    def test_coordinator_row_follows_the_coordinator_through_a_failover(self):
        nodes = self.start_cluster(3, extra_args=FAST)
        self.assertIs(self.wait_one_coordinator(), nodes[0])
        # Every node lists every row: one per node and the two role rows.
        want = ["coordinator", "n1", "n2", "n3", "worker"]
        for node in nodes:
            self.assertTrue(wait_until(lambda: sorted(rows_of(node)) == want, 15),
                            sorted(rows_of(node)))
        self.assertTrue(wait_until(lambda: newest_note(nodes[2], "coordinator")
                                   == "checked in by n1 (coordinator)", 10),
                        newest_note(nodes[2], "coordinator"))
        self.assertTrue(wait_until(lambda: newest_note(nodes[0], "worker")
                                   in ("checked in by n2 (worker)", "checked in by n3 (worker)"),
                                   10), newest_note(nodes[0], "worker"))

        nodes[0].kill()
        new = self.wait_one_coordinator(nodes[1:], timeout=15)
        new_id = "n%d" % (nodes.index(new) + 1)
        other = nodes[1] if new is nodes[2] else nodes[2]
        other_id = "n%d" % (nodes.index(other) + 1)
        moved = wait_until(lambda: newest_note(other, "coordinator")
                           == "checked in by %s (coordinator)" % new_id, 15)
        self.assertTrue(moved, newest_note(other, "coordinator"))
        # The new coordinator's own row goes on, and the remaining worker
        # keeps gotel/worker; n1's own row stops advancing (it goes late).
        count = new.job("gotel", new_id)["number_of_checkins"]
        self.assertTrue(wait_until(
            lambda: new.job("gotel", new_id)["number_of_checkins"] > count, 10))
        self.assertTrue(wait_until(lambda: newest_note(new, "worker")
                                   == "checked in by %s (worker)" % other_id, 10),
                        newest_note(new, "worker"))
        dead = new.job("gotel", "n1")["number_of_checkins"]
        self.assertTrue(wait_until(
            lambda: new.job("gotel", new_id)["number_of_checkins"] >= count + 3, 15))
        self.assertEqual(new.job("gotel", "n1")["number_of_checkins"], dead,
                         "nobody checks in a dead node's row")


if __name__ == "__main__":
    unittest.main()
