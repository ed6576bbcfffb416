"""A flood of idle connections from one address (issue 14 §2, docs/security.md
"Connections and file descriptors"): connections over the client's limit are
answered 429 and closed at once, connections over server.max_connections
(lowered to fit RLIMIT_NOFILE) are closed at once, the accept loop does not
spin, and another address (127.0.0.2) is served meanwhile.

gotel runs with RLIMIT_NOFILE lowered (soft = hard, so it cannot raise it);
every flood is bounded in count and time, and all traffic stays on 127.0.0.0/8.
"""

import errno
import os
import resource
import selectors
import socket
import time
import unittest

from gotel_harness import HOST, GotelTestCase, wait_until

OTHER = "127.0.0.2"


def nofile(limit):
    """A preexec_fn giving the child `limit` file descriptors, soft and hard."""
    def set_limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
    return set_limit


def own_fds_for(n):
    """Raises this process's soft descriptor limit to hold `n` sockets; False if it cannot."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = n + 256
    if soft >= want:
        return True
    if hard != resource.RLIM_INFINITY and hard < want:
        return False
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return True


def cpu_seconds(pid):
    """User + system CPU time of process `pid`, every thread."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def get_from(port, source, timeout=10.0):
    """GET / from `source` on a new connection: (status line, seconds taken)."""
    start = time.monotonic()
    with socket.create_connection((HOST, port), timeout=timeout,
                                  source_address=(source, 0)) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    return data.split(b"\r\n", 1)[0], time.monotonic() - start


class Flood:
    """`count` idle connections from 127.0.0.1, opened without waiting for the
    server; poll() reads what the server sends and counts the ones it closed."""

    def __init__(self, port, count, seconds=20.0):
        self.sel = selectors.DefaultSelector()
        self.open = set()
        self.answers = []  # what each closed connection received before its close
        deadline = time.monotonic() + seconds
        for _ in range(count):
            if time.monotonic() > deadline:
                break
            s = socket.socket()
            s.setblocking(False)
            err = s.connect_ex((HOST, port))
            if err not in (0, errno.EINPROGRESS):
                s.close()
                raise AssertionError("connect: %s" % os.strerror(err))
            self.sel.register(s, selectors.EVENT_READ, bytearray())
            self.open.add(s)
            if len(self.open) % 200 == 0:
                self.poll(0)  # read answers as they come, as a real client would
        self.opened = count

    @property
    def closed(self):
        return len(self.answers)

    def poll(self, timeout=0.05):
        for key, _ in self.sel.select(timeout):
            s = key.fileobj
            try:
                data = s.recv(4096)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if data:
                key.data.extend(data)
                continue
            self.sel.unregister(s)
            self.open.discard(s)
            self.answers.append(bytes(key.data))
            s.close()
        return len(self.open)

    def wait_open_at_most(self, n, timeout):
        return wait_until(lambda: self.poll() <= n, timeout, interval=0)

    def close(self):
        for s in list(self.open):
            self.sel.unregister(s)
            s.close()
        self.open.clear()
        self.sel.close()


class FloodTest(GotelTestCase):
    def held_cpu(self, g, flood, seconds=2.0):
        """CPU seconds gotel uses over `seconds` while the flood's connections
        are held (the window is a measurement, not a wait for a condition)."""
        before = cpu_seconds(g.proc.pid)
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            flood.poll(0.1)
        return cpu_seconds(g.proc.pid) - before

    def test_connections_over_the_client_limit_are_closed_at_once_and_others_are_served(self):
        # Before the fix: the extra connections waited for a request until the
        # idle timeout, took every descriptor, and accept() spun on EMFILE.
        count = 3000
        if not own_fds_for(count):
            self.skipTest("this process cannot open %d sockets" % count)
        g = self.server(preexec_fn=nofile(1024))
        status, normal = get_from(g.port, OTHER)
        self.assertEqual(status, b"HTTP/1.1 200 OK")
        flood = Flood(g.port, count)
        self.addCleanup(flood.close)
        # The default per-client limit (256) keeps 256; the rest get 429 and are closed.
        ok = flood.wait_open_at_most(256, timeout=30)
        self.assertTrue(ok, "%d of %d connections still open" % (len(flood.open), count))
        self.assertGreaterEqual(flood.closed, count - 256)
        # Each is answered 429, unless it came while server.max_connections
        # (896 here) were open, refused ones lingering included: then it is
        # closed without an answer (seen on a busy machine).
        refused = [a for a in flood.answers if a.startswith(b"HTTP/1.1 429")]
        self.assertEqual(len(refused), len([a for a in flood.answers if a]),
                         "answers: %r" % sorted(set(a[:40] for a in flood.answers)))
        self.assertTrue(refused)
        self.assertIn(b"too many connections from 127.0.0.1", refused[0])
        # Another address is served as fast as before the flood.
        status, seconds = get_from(g.port, OTHER)
        self.assertEqual(status, b"HTTP/1.1 200 OK")
        self.assertLess(seconds, max(1.0, 20 * normal))
        used = self.held_cpu(g, flood)
        self.assertLess(used, 0.5, "gotel used %.2f s of CPU in 2 s holding idle connections"
                        % used)
        self.assertTrue(g.alive())

    def test_connections_over_the_descriptor_budget_are_closed_at_once(self):
        # 256 descriptors: server.max_connections is lowered to 128, keeping
        # 128 for RocksDB, the logs and alert deliveries.
        count = 1000
        if not own_fds_for(count):
            self.skipTest("this process cannot open %d sockets" % count)
        g = self.server(args=["--set", "server.max_connections_per_client=0"],
                        preexec_fn=nofile(256))
        self.assertTrue(wait_until(lambda: "at most 128 connections" in g.log_tail(200), 5),
                        g.log_tail())
        flood = Flood(g.port, count)
        self.addCleanup(flood.close)
        ok = flood.wait_open_at_most(128, timeout=30)
        self.assertTrue(ok, "%d of %d connections still open" % (len(flood.open), count))
        self.assertGreaterEqual(flood.closed, count - 128)
        fds = len(os.listdir("/proc/%d/fd" % g.proc.pid))
        self.assertLessEqual(fds, 256 - 64, "gotel holds %d descriptors" % fds)
        used = self.held_cpu(g, flood)
        self.assertLess(used, 0.5, "gotel used %.2f s of CPU in 2 s at the connection cap"
                        % used)
        # With the flood gone, the node serves again, writes included.
        flood.close()
        self.assertTrue(wait_until(lambda: get_from(g.port, OTHER)[0] == b"HTTP/1.1 200 OK",
                                   10))
        g.reserve("flood", "after", 1, "hours")
        self.assertEqual(g.job("flood", "after")["frequency"], 1)
        self.assertIn("server.max_connections (128) connections are open", g.log_tail(200))


if __name__ == "__main__":
    unittest.main()
