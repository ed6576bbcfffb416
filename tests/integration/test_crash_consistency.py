"""kill -9 at random moments under checkin load loses no acknowledged checkin.

Several rounds on one data directory: client threads send checkins over
keep-alive connections to many reservations, gotel is killed with SIGKILL at a
random moment, restarted, and every reservation must show at least as many
checkins as were acknowledged (a 200 was read) and no more than were sent.
Counts accumulate across rounds, so a later round also re-checks earlier ones.
Bounded: ROUNDS x (at most MAX_LOAD_S of load + a restart), well under a minute.
GOTEL_CRASH_ROUNDS sets the number of rounds (default 5), e.g. 100 for a long run.
"""

import http.client
import json
import os
import random
import threading
import time
import unittest

from gotel_harness import HOST, GotelTestCase

ROUNDS = int(os.environ.get("GOTEL_CRASH_ROUNDS", "5"))
RESERVATIONS = 40
CLIENTS = 4
MIN_LOAD_S = 0.3
MAX_LOAD_S = 2.0


class CrashConsistencyTest(GotelTestCase):
    def test_acknowledged_checkins_survive_random_kill_9(self):
        seed = int(time.time())
        rng = random.Random(seed)
        g = self.server()
        names = ["c%02d" % i for i in range(RESERVATIONS)]
        for name in names:
            g.reserve("Crash", name, 1, "hours")
        sent = {n: 0 for n in names}
        acked = {n: 0 for n in names}
        lock = threading.Lock()
        history = []

        for round_no in range(ROUNDS):
            port = g.port
            stop = threading.Event()

            def client(i, port=port, stop=stop):
                local = random.Random(seed * 31 + round_no * 7 + i)
                conn = http.client.HTTPConnection(HOST, port, timeout=5)
                try:
                    while not stop.is_set():
                        name = local.choice(names)
                        body = json.dumps({"app": "Crash", "component": name})
                        with lock:
                            sent[name] += 1
                        conn.request("POST", "/checkin", body=body,
                                     headers={"Content-Type": "application/json"})
                        resp = conn.getresponse()
                        resp.read()
                        if resp.status == 200:
                            with lock:
                                acked[name] += 1
                        elif resp.status != 503:
                            raise AssertionError("checkin answered %d" % resp.status)
                except (OSError, http.client.HTTPException):
                    return  # the server is gone (or going)
                finally:
                    conn.close()

            threads = [threading.Thread(target=client, args=(i,), daemon=True)
                       for i in range(CLIENTS)]
            for t in threads:
                t.start()
            load_s = rng.uniform(MIN_LOAD_S, MAX_LOAD_S)
            time.sleep(load_s)
            g.kill()
            stop.set()
            for t in threads:
                t.join(timeout=10)
                self.assertFalse(t.is_alive(), "a client thread hung after the kill")

            g.start()
            counts = {j["component"]: j["number_of_checkins"]
                      for j in g.listing() if j["app"] == "Crash"}
            self.assertEqual(sorted(counts), names, "reservations lost by kill -9 (seed %d)" % seed)
            with lock:
                for name in names:
                    self.assertGreaterEqual(
                        counts[name], acked[name],
                        "round %d (seed %d): %s lost acknowledged checkins"
                        % (round_no, seed, name))
                    self.assertLessEqual(
                        counts[name], sent[name],
                        "round %d (seed %d): %s counts checkins never sent"
                        % (round_no, seed, name))
                history.append((round(load_s, 2), sum(acked.values()), sum(counts.values())))
        self.assertGreater(sum(acked.values()), 0, "no checkin was acknowledged at all")
        print("\ncrash rounds (load s, acked so far, stored): %r" % history)


if __name__ == "__main__":
    unittest.main()
