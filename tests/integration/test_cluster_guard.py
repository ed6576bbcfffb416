"""The cluster port before authentication (docs/security.md, "Cluster port
before authentication"): one 32-byte CAF BASP header announcing a 1 GiB (or
4 GiB) payload made CAF allocate it at once, before any authentication. Now
such a connection is closed before CAF allocates anything, a connection from
an address that is not a configured node's is closed at accept, both are
counted in /metrics, and the node keeps serving. Plain, and with cluster.tls
("anonymous": anyone can complete that TLS handshake and send the same bytes
inside it; "mutual": the bytes never get past TLS). Real gotel processes on
127.0.0.1; the stranger connects from 127.0.0.1 (a configured node's address:
another process on a node's host) and from 127.0.0.2 (any other address)."""

import os
import socket
import ssl
import struct
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gotel_harness import HOST, closed_within, wait_until  # noqa: E402
import test_cluster_tls  # noqa: E402
from test_cluster_tls import TlsTestCase  # noqa: E402

GIB = 1 << 30
# What a stranger may make the node allocate, with room for the node's own
# growth while the test runs (it starts at about 30 MiB).
PEAK_GROWTH_BOUND = 32 << 20


def setUpModule():
    test_cluster_tls.setUpModule()  # the throwaway CA and certificates


def tearDownModule():
    test_cluster_tls.tearDownModule()


def basp_header(payload_len):
    """A BASP client handshake header (CAF 0.17, network byte order): operation
    1, two padding bytes, flags, payload length, operation data, source and
    destination actor. Valid as far as CAF checks before reading the payload."""
    return struct.pack(">BBBBIQQQ", 1, 0, 0, 0, payload_len, 0, 0, 0)


def peak_rss(pid):
    """VmHWM: the process's peak resident set, in bytes."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM for %d" % pid)


def anonymous_tls_context():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers("AECDH-AES256-SHA:@SECLEVEL=0")
    return ctx


def send_header(port, payload_len, source=HOST, tls=None):
    """Connects from `source` to the cluster port `port` (through TLS with the
    context `tls`), sends one header and returns the socket, or None when the
    connection was closed before the header could be sent."""
    sock = socket.socket()
    sock.bind((source, 0))
    sock.settimeout(5)
    sock.connect((HOST, port))
    try:
        if tls is not None:
            sock = tls.wrap_socket(sock)
        sock.sendall(basp_header(payload_len))
    except (OSError, ssl.SSLError):
        sock.close()
        return None
    return sock


def closed_by_peer(sock, seconds=5):
    if sock is None:
        return True
    try:
        return closed_within(sock, seconds)
    except (ssl.SSLError, OSError):
        return True
    finally:
        sock.close()


class GuardTestCase(TlsTestCase):
    def refused(self, node, reason):
        r = node.get("/metrics")
        for line in r.text.splitlines():
            if line.startswith('gotel_cluster_connections_refused_total{reason="%s"}' % reason):
                return int(float(line.split()[-1]))
        return None

    def assert_still_serving(self, nodes, notes):
        r = nodes[1].checkin("guard", "job", notes=notes)
        self.assertEqual(r.status, 200, r.text)
        self.assertTrue(wait_until(lambda: any(
            p.get("notes") == notes
            for p in nodes[0].get("/api/v1/reservations/guard/job/pings").json()["result"]), 5),
            "a write through n2 reaches n1")
        for node in nodes:
            view = node.get("/api/v1/status").json()
            self.assertTrue(all(n["alive"] for n in view["nodes"]), view)

    def attack(self, mode, tls=None):
        nodes = self.start_nodes([mode, mode])
        self.wait_joined(nodes)
        nodes[1].reserve("guard", "job", 1, "hours")
        self.assert_still_serving(nodes, "before")
        target, pid = self.ports[0], nodes[0].proc.pid
        before = peak_rss(pid)
        # From a configured node's address: past accept, refused at the header.
        for length in (GIB, 0xFFFFFFFF, 0xFFFFFFFF):
            sock = send_header(target, length, tls=tls)
            self.assertTrue(closed_by_peer(sock), "a %d-byte announcement closes the connection"
                            % length)
        grown = peak_rss(pid) - before
        print("%s: peak RSS grew by %.1f MiB over three headers announcing 1, 4 and 4 GiB"
              % (mode, grown / 2.0**20))
        self.assertLess(grown, PEAK_GROWTH_BOUND, "the node allocated what a stranger announced")
        # From another address: closed at accept.
        sock = send_header(target, GIB, source="127.0.0.2", tls=tls)
        self.assertTrue(closed_by_peer(sock), "a stranger's address is refused")
        self.assertLess(peak_rss(pid) - before, PEAK_GROWTH_BOUND)
        self.assertTrue(wait_until(lambda: self.refused(nodes[0], "address") == 1, 5),
                        nodes[0].get("/metrics").text[-800:])
        self.assert_still_serving(nodes, "after")
        self.assertIn("closed a connection to the cluster port", self.log_of(nodes[0]))
        return nodes


class PlainGuard(GuardTestCase):
    def test_oversized_announcement_and_stranger_are_closed_and_the_node_keeps_serving(self):
        nodes = self.attack("off")
        self.assertEqual(self.refused(nodes[0], "oversized"), 3)


class AnonymousTlsGuard(GuardTestCase):
    def test_the_same_bytes_inside_anonymous_tls_are_refused_too(self):
        nodes = self.attack("anonymous", tls=anonymous_tls_context())
        self.assertEqual(self.refused(nodes[0], "oversized"), 3)


class MutualTlsGuard(GuardTestCase):
    def test_the_same_bytes_never_get_past_mutual_tls(self):
        # No certificate: the raw header is not a TLS handshake; nothing is
        # allocated for it and the node keeps serving.
        nodes = self.attack("mutual")
        self.assertEqual(self.refused(nodes[0], "oversized"), 0)


if __name__ == "__main__":
    unittest.main()
