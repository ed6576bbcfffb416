"""A coordinator paused (SIGSTOP) until a survivor takes over, then resumed
(SIGCONT), rejoins its cluster as a worker, caught up, within a few
heartbeats, and stays in: every node keeps hearing it, writes through the new
coordinator reach it, and writes through it are acknowledged (docs/cluster.md,
failure matrix). Real gotel processes on 127.0.0.1, with the default
heartbeat (500 ms) and failure timeout (3000 ms) the issue was found with.

Three rounds by default on one cluster: n1 is paused, then the node that
replaced it, then the next; GOTEL_PAUSE_ROUNDS sets how many (to run the
scenario many times in a row)."""

import os
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gotel_harness import wait_until  # noqa: E402
from test_cluster import ClusterTestCase  # noqa: E402

HEARTBEAT_MS = 500
TIMEOUT_MS = 3000
# From SIGCONT to every node agreeing on the coordinator, the resumed node
# being a worker that has every write made during its pause, and every node
# seeing every other alive. The resumed node learns the newer epoch from the
# first answer to its heartbeat and catches up at its next tick: a few
# heartbeats; the bound leaves room for a machine busy with a build.
REJOIN_BOUND_S = 8 * HEARTBEAT_MS / 1000.0
ROUNDS = int(os.environ.get("GOTEL_PAUSE_ROUNDS", "3"))


class PausedCoordinatorRejoins(ClusterTestCase):
    def status(self, node):
        try:
            r = node.get("/api/v1/status", timeout=2)
        except OSError:
            return None
        return r.json() if r.status == 200 else None

    def agreed(self, coordinator_id):
        """Every node names `coordinator_id` and sees all nodes alive."""
        for node in self.nodes:
            s = self.status(node)
            if not s or s["coordinator_id"] != coordinator_id:
                return False
            if s["coordinator"] != (s["node_id"] == coordinator_id):
                return False
            if not all(n["alive"] for n in s["nodes"]):
                return False
        return True

    def checkins_on(self, node, app, component):
        job = node.job(app, component)
        return job and job["number_of_checkins"]

    def pause_until_replaced(self, paused, others):
        """SIGSTOPs `paused` until one of `others` coordinates; returns it."""
        os.kill(paused.proc.pid, signal.SIGSTOP)
        try:
            ok = wait_until(lambda: len(self.coordinators(others)) == 1, 20)
            self.assertTrue(ok, "a survivor takes over while %s is paused" % paused.port)
            return self.coordinators(others)[0]
        except BaseException:
            os.kill(paused.proc.pid, signal.SIGCONT)
            raise

    def test_resumed_coordinator_rejoins_as_a_caught_up_worker_within_a_few_heartbeats(self):
        nodes = self.start_cluster(3, timeout_ms=TIMEOUT_MS, heartbeat_ms=HEARTBEAT_MS)
        ids = {id(n): "n%d" % (i + 1) for i, n in enumerate(nodes)}
        coord = self.wait_one_coordinator(timeout=20)
        self.assertIs(coord, nodes[0])
        self.assertTrue(wait_until(lambda: self.agreed("n1"), 20), "the cluster forms")
        nodes[0].reserve("pause", "job", 1, "hours")
        took = []
        for rnd in range(ROUNDS):
            paused = coord
            others = [n for n in nodes if n is not paused]
            new = self.pause_until_replaced(paused, others)
            # Written while the old coordinator is paused: acknowledged by the
            # survivors (the paused node is declared dead), so it reaches the
            # resumed node only by its catch-up.
            during = "during %d" % rnd
            r = new.checkin("pause", "job", notes=during)
            self.assertEqual(r.status, 200, r.text)
            want = self.checkins_on(new, "pause", "job")
            resumed_at = time.monotonic()
            os.kill(paused.proc.pid, signal.SIGCONT)

            def rejoined():
                return (self.agreed(ids[id(new)])
                        and self.checkins_on(paused, "pause", "job") == want)

            ok = wait_until(rejoined, REJOIN_BOUND_S, interval=0.02)
            took.append(time.monotonic() - resumed_at)
            self.assertTrue(ok, "round %d: %s did not rejoin as a caught-up worker within %.1f s "
                            "(views %r, its checkins %r, want %r)\n%s"
                            % (rnd, ids[id(paused)], REJOIN_BOUND_S,
                               [self.status(n) for n in nodes],
                               self.checkins_on(paused, "pause", "job"), want,
                               paused.log_tail()))
            # It stays in for longer than a failure timeout: every node keeps
            # hearing every other (a refused heartbeat would get it declared
            # dead), each write through the coordinator is on the resumed node
            # when acknowledged (it was confirmed there), and a write through
            # the resumed node, now a worker, is acknowledged.
            deadline = time.monotonic() + (TIMEOUT_MS + 2 * HEARTBEAT_MS) / 1000.0
            writes = 0
            while time.monotonic() < deadline and writes < 200:
                via = new if writes % 2 == 0 else paused
                r = via.checkin("pause", "job", notes="after %d.%d" % (rnd, writes))
                self.assertEqual(r.status, 200, "round %d write %d: %s\n%s"
                                 % (rnd, writes, r.text, via.log_tail()))
                want = self.checkins_on(new, "pause", "job")
                self.assertEqual(self.checkins_on(paused, "pause", "job"), want,
                                 "round %d write %d reached the resumed node" % (rnd, writes))
                self.assertTrue(self.agreed(ids[id(new)]),
                                "round %d: views %r" % (rnd, [self.status(n) for n in nodes]))
                writes += 1
            coord = new
        print("rejoined after SIGCONT in %s s (%d rounds, max %.2f s)"
              % (", ".join("%.2f" % t for t in took), len(took), max(took)))


if __name__ == "__main__":
    unittest.main()
