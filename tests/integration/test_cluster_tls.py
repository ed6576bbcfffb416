"""Cluster traffic over TLS (cluster.tls; docs/security.md, docs/cluster.md)
with real gotel processes on 127.0.0.1 and a throwaway CA made with the
`openssl` CLI: a mutual-TLS cluster elects, replicates and fails over; an
eavesdropper on the path (the capturing TCP proxies of test_cluster.py) sees
neither names nor notes, while the same capture of a plain cluster does (the
control that lets this test fail); a node whose certificate is from another CA
is refused; broken TLS settings stop gotel at startup with a clear message; and
nodes whose cluster.tls differ never join, log why, and keep running."""

import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gotel_harness import HOST, wait_until  # noqa: E402
from test_cluster import (BlockingProxy, ClusterTestCase, HEARTBEAT_MS,  # noqa: E402
                          TIMEOUT_MS, free_port)

# Distinctive strings: if any of them shows up in the captured bytes, the
# traffic was readable.
APP = "zq-payroll-7731"
COMPONENT = "ledger-sync-4410"
NOTES = "nightly export note 5521 (confidential)"
SECRET = "Cl-secret-93xv-do-not-log"
PASSPHRASE = "Pp-n2-key-61qw-do-not-log"

CERTS = None  # the temp directory of setUpModule


def openssl(*args):
    subprocess.run(["openssl"] + list(args), cwd=CERTS, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def make_ca(name):
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", name + ".key", "-out", name + ".pem", "-days", "2",
            "-subj", "/CN=" + name)


def make_cert(name, ca, passphrase=None):
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", name + ".key", "-out", name + ".csr", "-subj", "/CN=" + name)
    openssl("x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem", "-CAkey", ca + ".key",
            "-set_serial", str(int.from_bytes(os.urandom(8), "big")), "-days", "2",
            "-out", name + ".pem")
    if passphrase:
        openssl("pkey", "-in", name + ".key", "-aes256", "-passout", "pass:" + passphrase,
                "-out", name + ".enc.key")


def setUpModule():
    global CERTS
    CERTS = tempfile.mkdtemp(prefix="gotel-tls-")
    make_ca("ca")
    make_ca("rogue-ca")
    for name in ("n1", "n3"):
        make_cert(name, "ca")
    make_cert("n2", "ca", passphrase=PASSPHRASE)
    make_cert("rogue", "rogue-ca")


def tearDownModule():
    shutil.rmtree(CERTS, ignore_errors=True)


def cert_path(name):
    return os.path.join(CERTS, name)


def key_material():
    """Base64 lines of every private key made here: none may reach a log."""
    lines = []
    for f in os.listdir(CERTS):
        if f.endswith(".key"):
            with open(cert_path(f)) as k:
                lines += [l.strip() for l in k if l.strip() and not l.startswith("-----")]
    return lines


def tls_args(node, mode="mutual", cert=None, ca="ca"):
    """--set flags (and env) for `node` ("n1"...) in `mode`."""
    env = {}
    if mode == "off":
        return [], env
    args = ["--set", "cluster.tls=" + mode]
    if mode == "mutual":
        cert = cert or node
        key = cert + (".enc.key" if cert == "n2" else ".key")
        if cert == "n2":
            env["GOTEL_CLUSTER_TLS_KEY_PASSPHRASE"] = PASSPHRASE
        args += ["--set", "cluster.tls_cert=" + cert_path(cert + ".pem"),
                 "--set", "cluster.tls_key=" + cert_path(key),
                 "--set", "cluster.tls_ca=" + cert_path(ca + ".pem")]
    return args, env


class TlsTestCase(ClusterTestCase):
    def start_nodes(self, modes, certs=None, cas=None, capture=False):
        """One node per entry of `modes`; with `capture`, every node reaches
        node j through a capturing proxy in front of j (self.proxies[j])."""
        n = len(modes)
        real = [free_port() for _ in range(n)]
        self.proxies = [BlockingProxy(p, capture=True) for p in real] if capture else []
        self.addCleanup(lambda: [p.close() for p in self.proxies])
        self.ports = real
        self.nodes = []
        for i in range(n):
            entries = ",".join(
                "n%d@127.0.0.1:0@127.0.0.1:%d"
                % (j + 1, self.proxies[j].port if capture and i != j else real[j])
                for j in range(n))
            args, env = tls_args("n%d" % (i + 1), modes[i],
                                 cert=(certs or {}).get(i), ca=(cas or {}).get(i, "ca"))
            env["GOTEL_CLUSTER_SECRET"] = SECRET
            args += ["--set", "server.node_id=n%d" % (i + 1),
                     "--set", "cluster.nodes=" + entries,
                     "--set", "cluster.heartbeat_ms=%d" % HEARTBEAT_MS,
                     "--set", "cluster.failure_timeout_ms=%d" % TIMEOUT_MS]
            self.nodes.append(self.server(env=env, args=args))
        return self.nodes

    def captured(self):
        return b"".join(bytes(p.captured) for p in self.proxies)

    def pings(self, node):
        r = node.get("/api/v1/reservations/%s/%s/pings" % (APP, COMPONENT))
        return r.json().get("result", []) if r.status == 200 else []

    def assertNothingSecretLogged(self, nodes):
        keys = key_material()
        for node in nodes:
            log = self.log_of(node)
            self.assertNotIn(SECRET, log)
            self.assertNotIn(PASSPHRASE, log)
            self.assertNotIn("PRIVATE KEY", log)
            for line in keys:
                self.assertNotIn(line, log, "key material in the log")

    def wait_joined(self, nodes, timeout=20):
        """Until each node coordinates or has caught up with the coordinator:
        a worker still in its TLS handshake (seconds in sanitizer builds) is
        not live yet, so a write made then reaches it only by catch-up, which
        carries records but not their checkin history (docs/cluster.md)."""
        # One coordinator, and every other node caught up with that one: when
        # handshakes take seconds (ASan), nodes first elect themselves, and a
        # write taken by such a transient coordinator reaches the others only
        # once it steps down and catches up (docs/cluster.md, Reconciliation).
        def joined():
            coordinators = self.coordinators()
            if len(coordinators) != 1:
                return False
            name = "n%d" % (self.nodes.index(coordinators[0]) + 1)
            return all(n is coordinators[0] or "caught up with " + name in self.log_of(n)
                       for n in nodes)
        self.assertTrue(wait_until(joined, timeout),
                        "every node joined:\n" + "\n".join(n.log_tail() for n in nodes))

    def wait_meshed(self, nodes, timeout=20):
        """Until every node has connected to every other one, so that the
        failover below elects the next node in order (a node that never
        reached a peer counts it as dead)."""
        names = ["n%d" % (self.nodes.index(n) + 1) for n in nodes]
        self.assertTrue(wait_until(
            lambda: all("connected to " + peer in self.log_of(n)
                        for n, me in zip(nodes, names) for peer in names if peer != me),
            timeout), "a full mesh:\n" + "\n".join(n.log_tail() for n in nodes))

    def replicate_a_checkin(self, via, to):
        self.wait_joined([via, to])
        via.reserve(APP, COMPONENT, 1, "hours")
        r = via.checkin(APP, COMPONENT, notes=NOTES)
        self.assertEqual(r.status, 200, r.text)
        self.assertTrue(wait_until(
            lambda: any(p.get("notes") == NOTES for p in self.pings(to)), 5),
            "the checkin and its notes reached the worker: %r" % self.pings(to))

    def idle_bytes_per_second(self, seconds=2.0):
        before = len(self.captured())
        time.sleep(seconds)
        return (len(self.captured()) - before) / seconds


class MutualTls(TlsTestCase):
    def test_tls_cluster_elects_replicates_fails_over_and_hides_the_payload(self):
        nodes = self.start_nodes(["mutual"] * 3, capture=True)
        self.assertIs(self.wait_one_coordinator(), nodes[0])
        # Written through a worker: forwarded to n1, replicated to n3. The
        # failover below elects the next node in order only in a full mesh.
        self.wait_meshed(nodes)
        self.replicate_a_checkin(nodes[1], nodes[2])
        rate = self.idle_bytes_per_second()
        wire = self.captured()
        self.assertGreater(len(wire), 5000, "the proxies relayed the cluster's traffic")
        self.assertTrue(wire.startswith(b"\x16\x03"), "a TLS handshake record comes first")
        for text in (APP, COMPONENT, NOTES, "nightly export", SECRET):
            self.assertNotIn(text.encode(), wire, "%r readable on the wire" % text)
        print("mutual TLS: %d bytes captured; idle cluster traffic %.0f B/s (3 nodes, "
              "heartbeat %d ms)" % (len(wire), rate, HEARTBEAT_MS))
        killed_at = time.monotonic()
        nodes[0].kill()
        new = self.wait_one_coordinator(nodes[1:], timeout=10)
        took = time.monotonic() - killed_at
        print("mutual TLS failover: new coordinator after %.2f s (failure timeout %.1f s)"
              % (took, TIMEOUT_MS / 1000.0))
        self.assertLess(took, TIMEOUT_MS / 1000.0 + 3.0)
        self.assertIs(new, nodes[1])
        r = nodes[2].checkin(APP, COMPONENT, notes="after failover")
        self.assertEqual(r.status, 200, r.text)
        self.assertTrue(wait_until(
            lambda: nodes[1].job(APP, COMPONENT)["number_of_checkins"] == 2, 5))
        self.assertNotIn(b"after failover", self.captured())
        self.assertNothingSecretLogged(nodes)


class EncryptionControl(TlsTestCase):
    def test_plain_cluster_payload_is_readable_on_the_same_capture(self):
        # The control: without it, a capture that saw nothing would pass above.
        nodes = self.start_nodes(["off"] * 2, capture=True)
        self.assertIs(self.wait_one_coordinator(), nodes[0])
        self.replicate_a_checkin(nodes[1], nodes[0])
        rate = self.idle_bytes_per_second()
        wire = self.captured()
        for text in (APP, COMPONENT, NOTES):
            self.assertIn(text.encode(), wire, "%r should be readable without TLS" % text)
        self.assertNotIn(SECRET.encode(), wire, "the secret never crosses the wire")
        print("plain: idle cluster traffic %.0f B/s (2 nodes, heartbeat %d ms)"
              % (rate, HEARTBEAT_MS))

    def test_anonymous_tls_hides_the_payload_from_an_eavesdropper(self):
        nodes = self.start_nodes(["anonymous"] * 2, capture=True)
        self.assertIs(self.wait_one_coordinator(), nodes[0])
        self.replicate_a_checkin(nodes[1], nodes[0])
        rate = self.idle_bytes_per_second()
        wire = self.captured()
        self.assertTrue(wire.startswith(b"\x16\x03"), "a TLS handshake record comes first")
        for text in (APP, COMPONENT, NOTES):
            self.assertNotIn(text.encode(), wire, "%r readable on the wire" % text)
        print("anonymous TLS: idle cluster traffic %.0f B/s (2 nodes, heartbeat %d ms)"
              % (rate, HEARTBEAT_MS))


class Refusal(TlsTestCase):
    def test_node_with_a_certificate_from_another_ca_is_refused(self):
        # n3 holds the cluster secret but a certificate (and CA) of its own.
        nodes = self.start_nodes(["mutual"] * 3, certs={2: "rogue"}, cas={2: "rogue-ca"})
        self.assertIs(self.wait_one_coordinator(nodes[:2]), nodes[0])
        self.assertTrue(wait_until(lambda: "connected to n2" in self.log_of(nodes[0]), 5))
        nodes[2].reserve("intruder", "job", 1, "hours")
        nodes[1].reserve("member", "job", 1, "hours")
        for node, peer in ((nodes[0], "n3"), (nodes[1], "n3"), (nodes[2], "n1")):
            self.assertTrue(wait_until(
                lambda: "cluster: %s at 127.0.0.1:" % peer in self.log_of(node)
                and "no cluster session came of it" in self.log_of(node), 5),
                "the refusal is logged:\n" + node.log_tail())
        # The member's write was acknowledged after reaching n1; the
        # intruder's, made first, never does.
        self.assertEqual([j["app"] for j in nodes[0].user_jobs()], ["member"])
        self.assertEqual([j["app"] for j in nodes[2].user_jobs()], ["intruder"])
        self.assertNotIn("connected to n3", self.log_of(nodes[0]))
        self.assertNothingSecretLogged(nodes)
        for node in nodes:
            self.assertEqual(node.stop(), 0)


class Mismatch(TlsTestCase):
    def test_nodes_with_different_cluster_tls_never_join_log_it_and_keep_running(self):
        nodes = self.start_nodes(["mutual", "off", "anonymous"])
        # Nobody joins anybody: each node ends up coordinating alone.
        self.assertTrue(wait_until(lambda: len(self.coordinators()) == 3, 10),
                        "each node alone: %d coordinators" % len(self.coordinators()))
        hints = ['cluster.tls = "mutual"', 'cluster.tls = "off"', 'cluster.tls = "anonymous"']
        for i, node in enumerate(nodes):
            others = [("n%d" % (j + 1)) for j in range(3) if j != i]
            for peer in others:
                # TLS towards a plain node can hang until the connect times
                # out (server.request_timeout_ms, 5 s) before it is logged.
                self.assertTrue(wait_until(
                    lambda: "cluster: %s at 127.0.0.1:" % peer in self.log_of(node), 12),
                    "n%d logs the failed join with %s:\n%s" % (i + 1, peer, node.log_tail()))
            self.assertIn(hints[i], self.log_of(node))
        for node in nodes:
            self.assertTrue(node.alive())
            self.assertEqual(node.get("/").status, 200)
        for node in nodes:
            self.assertEqual(node.stop(), 0, "clean exit:\n" + node.log_tail())


class StartupChecks(TlsTestCase):
    def start_failing(self, extra, env=None):
        """Starts gotel (single node of a 2-node cluster) expecting it to exit;
        returns (exit status, log)."""
        ports = [free_port(), free_port()]
        entries = ",".join("n%d@127.0.0.1:0@127.0.0.1:%d" % (i + 1, p)
                           for i, p in enumerate(ports))
        env = dict(env or {}, GOTEL_CLUSTER_SECRET=SECRET)
        s = self.server(env=env, start=False,
                        args=["--set", "server.node_id=n1", "--set", "cluster.nodes=" + entries]
                        + extra)
        with self.assertRaises(AssertionError):
            s.start()
        return self.log_of(s)

    def mutual(self, cert="n1", key=None, ca="ca"):
        return ["--set", "cluster.tls=mutual",
                "--set", "cluster.tls_cert=" + cert_path(cert + ".pem"),
                "--set", "cluster.tls_key=" + (key or cert_path(cert + ".key")),
                "--set", "cluster.tls_ca=" + cert_path(ca + ".pem")]

    def test_broken_tls_settings_stop_gotel_with_a_clear_message(self):
        log = self.start_failing(["--set", "cluster.tls=mutual",
                                  "--set", "cluster.tls_cert=" + cert_path("n1.pem")])
        self.assertIn("missing: cluster.tls_key, cluster.tls_ca", log)
        log = self.start_failing(self.mutual(key="/nonexistent/n1.key"))
        self.assertIn("cluster.tls_key /nonexistent/n1.key: No such file or directory", log)
        log = self.start_failing(self.mutual(key=cert_path("n3.key")))
        self.assertIn("does not belong to cluster.tls_cert", log)
        log = self.start_failing(self.mutual(cert="rogue"))
        self.assertIn("does not verify against cluster.tls_ca", log)
        log = self.start_failing(self.mutual(cert="n2", key=cert_path("n2.enc.key")),
                                 env={"GOTEL_CLUSTER_TLS_KEY_PASSPHRASE": "wrong-" + PASSPHRASE})
        self.assertIn("cluster.tls_key_passphrase is wrong", log)
        self.assertNotIn(PASSPHRASE, log)
        log = self.start_failing(["--set", "cluster.tls_ca=" + cert_path("ca.pem")])
        self.assertIn('only used with cluster.tls = "mutual"', log)


if __name__ == "__main__":
    unittest.main()
