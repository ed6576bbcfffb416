"""API keys, refusing to start exposed, per-client limits and slow clients (docs/security.md).

Everything listens on 127.0.0.1 only; the refuse-to-start checks use addresses
that are either refused before binding or not assigned to this machine.
"""

import hashlib
import os
import socket
import subprocess
import time
import unittest

from gotel_harness import HOST, GotelTestCase, closed_within, gotel_bin, http_request

RW_KEY = "rw-key-for-tests"
RO_KEY = "ro-key-for-tests"


def digest(key):
    return hashlib.sha256(key.encode()).hexdigest()


def raw_request(port, data, timeout=5.0):
    """Sends raw bytes on a new connection; returns (status line, headers text, socket)."""
    s = socket.create_connection((HOST, port), timeout=timeout)
    s.sendall(data)
    return s


def read_response(sock):
    """Reads one response (headers + Content-Length body); returns (status, head, body)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("closed before a response: %r" % buf)
        buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = sock.recv(4096)
        if not chunk:
            break
        body += chunk
    status = int(head.split(b" ")[1])
    return status, head.decode("latin-1"), body


def get_request(path="/"):
    return ("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % path).encode()


class ApiKeyTest(GotelTestCase):
    def setUp(self):
        super().setUp()
        self.g = self.server(env={"GOTEL_SERVER_API_KEYS": digest(RW_KEY) + "," + digest("spare"),
                                  "GOTEL_SERVER_READ_ONLY_API_KEYS": digest(RO_KEY)})

    def assertJsonError(self, resp, status):
        self.assertEqual(resp.status, status, resp)
        self.assertJsonContentType(resp)
        body = resp.json()
        self.assertIs(body["success"], False)
        self.assertTrue(body["message"])

    def test_no_key_is_401_except_the_health_check(self):
        self.assertEqual(self.g.get("/").status, 200)
        r = self.g.get("/reservation")
        self.assertJsonError(r, 401)
        self.assertIn("Bearer", r.headers.get("www-authenticate", ""))
        self.assertJsonError(self.g.post("/checkin", {"app": "a", "component": "c"}), 401)
        self.assertJsonError(self.g.get("/status"), 401)

    def test_unknown_key_is_401(self):
        self.assertJsonError(self.g.get("/reservation", headers={"X-Api-Key": "nope"}), 401)
        self.assertJsonError(self.g.get("/reservation",
                                        headers={"Authorization": "Bearer " + digest(RW_KEY)}),
                             401)  # the digest itself is not a key

    def test_read_write_key_works_as_header_or_bearer(self):
        r = self.g.post("/reservation", {"app": "A", "component": "C", "frequency": 1,
                                         "time_units": "hours"}, headers={"X-Api-Key": RW_KEY})
        self.assertEqual(r.status, 200, r)
        r = self.g.post("/checkin", {"app": "A", "component": "C"},
                        headers={"Authorization": "Bearer " + RW_KEY})
        self.assertEqual(r.status, 200, r)
        r = self.g.get("/reservation", headers={"X-Api-Key": RW_KEY})
        self.assertEqual(r.status, 200, r)
        self.assertEqual([j["number_of_checkins"] for j in r.json()["result"]
                          if j["app"] == "A"], [1])

    def test_read_only_key_may_get_but_not_write(self):
        self.assertEqual(self.g.get("/reservation", headers={"X-Api-Key": RO_KEY}).status, 200)
        self.assertEqual(self.g.get("/status", headers={"X-Api-Key": RO_KEY}).status, 200)
        self.assertJsonError(self.g.post("/reservation", {"app": "A", "component": "C",
                                                          "frequency": 1, "time_units": "hours"},
                                         headers={"X-Api-Key": RO_KEY}), 403)
        self.assertJsonError(self.g.request("DELETE", "/snooze", {"app": "A", "component": "C"},
                                            headers={"Authorization": "Bearer " + RO_KEY}), 403)
        r = self.g.get("/reservation", headers={"X-Api-Key": RW_KEY})
        self.assertEqual([j for j in r.json()["result"] if j["app"] == "A"], [],
                         "a refused write changed something")

    def test_print_config_shows_digests_never_keys(self):
        out = subprocess.run([gotel_bin(), "--print-config", "--set",
                              "server.api_keys=" + digest(RW_KEY)],
                             capture_output=True, text=True, timeout=10,
                             env={k: v for k, v in os.environ.items()
                                  if not k.startswith("GOTEL_")})
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertNotIn(RW_KEY, out.stdout)


class PrintConfigMaskingTest(GotelTestCase):
    """Issue 14 §7: --print-config and configuration errors printed raw keys,
    URL passwords and ?token= values verbatim."""

    def run_gotel(self, *args):
        env = {k: v for k, v in os.environ.items() if not k.startswith("GOTEL_")}
        return subprocess.run([gotel_bin()] + list(args), capture_output=True, text=True,
                              timeout=10, env=env)

    def test_print_config_masks_raw_keys_url_passwords_and_tokens(self):
        out = self.run_gotel("--print-config",
                             "--set", "server.api_keys=" + RW_KEY,
                             "--set", "alerts.webhook_url=https://hook:pw-5521@127.0.0.1/h?token=tk-9913")
        self.assertEqual(out.returncode, 0, out.stderr)
        for secret in [RW_KEY, "pw-5521", "tk-9913"]:
            self.assertNotIn(secret, out.stdout)
        self.assertIn("https://hook:***@127.0.0.1/h?token=***", out.stdout)

    def test_configuration_errors_mask_url_passwords_and_tokens(self):
        out = self.run_gotel("--set", "pagerduty.url=ftp://u:pw-8812@127.0.0.1/?token=tk-1177")
        self.assertEqual(out.returncode, 2)
        self.assertIn("pagerduty.url must start with", out.stderr)
        for secret in ["pw-8812", "tk-1177"]:
            self.assertNotIn(secret, out.stderr + out.stdout)


class RefuseToStartTest(GotelTestCase):
    def run_gotel(self, *sets, timeout=20):
        data = os.path.join(self.tmpdir(), "data")
        cmd = [gotel_bin(), "--data-dir", data]
        for s in sets:
            cmd += ["--set", s]
        env = {k: v for k, v in os.environ.items() if not k.startswith("GOTEL_")}
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)

    def tmpdir(self):
        import tempfile
        d = tempfile.mkdtemp(prefix="gotel-sec-")
        self.addCleanup(lambda: __import__("shutil").rmtree(d, ignore_errors=True))
        return d

    def test_non_loopback_without_keys_is_refused(self):
        for listen in ["0.0.0.0:0", "[::]:0", "192.0.2.1:0"]:
            with self.subTest(listen=listen):
                out = self.run_gotel("server.listen=" + listen)
                self.assertEqual(out.returncode, 2, out.stderr)
                self.assertIn("refusing to listen", out.stderr)
                self.assertIn("server.open_api", out.stderr)

    def test_open_api_or_a_key_passes_the_check(self):
        # 192.0.2.1 (TEST-NET-1) is not on this machine: passing the check shows
        # as failing to bind instead (exit 1), and nothing is ever exposed.
        for extra in ["server.open_api=true", "server.api_keys=" + digest(RW_KEY),
                      "server.read_only_api_keys=" + digest(RO_KEY)]:
            with self.subTest(extra=extra):
                out = self.run_gotel("server.listen=192.0.2.1:0", extra)
                self.assertEqual(out.returncode, 1, out.stderr + out.stdout)
                self.assertNotIn("refusing", out.stderr)
                self.assertIn("cannot listen", out.stdout + out.stderr)

    def test_raw_key_instead_of_digest_is_a_config_error_that_does_not_echo_it(self):
        out = self.run_gotel("server.api_keys=" + RW_KEY)
        self.assertEqual(out.returncode, 2)
        self.assertIn("SHA-256", out.stderr)
        self.assertNotIn(RW_KEY, out.stderr + out.stdout)


class ClientLimitTest(GotelTestCase):
    def test_connections_over_the_limit_get_429_and_are_closed(self):
        g = self.server(args=["--set", "server.max_connections_per_client=3"])
        held = []
        for _ in range(3):
            s = raw_request(g.port, get_request())
            self.assertEqual(read_response(s)[0], 200)
            held.append(s)
        extra = raw_request(g.port, get_request())
        status, head, body = read_response(extra)
        self.assertEqual(status, 429, head)
        self.assertIn(b"too many connections", body)
        self.assertTrue(closed_within(extra, 5))
        held.pop().close()
        # The slot comes back once the server has seen the close.
        deadline = time.monotonic() + 5
        while True:
            s = raw_request(g.port, get_request())
            status = read_response(s)[0]
            s.close()
            if status == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.assertEqual(status, 200)
        for s in held:
            s.close()

    def test_request_rate_over_the_limit_gets_429_with_retry_after(self):
        g = self.server(args=["--set", "server.rate_limit_per_second=0.5",
                              "--set", "server.rate_limit_burst=5"])
        s = raw_request(g.port, b"")
        statuses = []
        for _ in range(7):
            s.sendall(get_request("/reservation"))
            status, head, body = read_response(s)
            statuses.append(status)
        self.assertEqual(statuses[:5], [200] * 5)
        self.assertEqual(statuses[5:], [429, 429])
        self.assertIn("Retry-After: 2", head)
        self.assertIn(b'"success":false', body)
        # The connection stays usable, and the rate is per client, not global.
        s.close()


def read_to_end(sock, seconds=5.0):
    """Everything the peer sends until it closes (EOF or reset) within `seconds`;
    None if it is still open then."""
    sock.settimeout(seconds)
    data = b""
    try:
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                return data
            data += chunk
    except (ConnectionResetError, BrokenPipeError):
        return data
    except socket.timeout:
        return None


class TransferEncodingTest(GotelTestCase):
    """Issue 14 §7: a coding other than chunked was read as an empty body, and
    the body then as a second request (a desync primitive behind proxies)."""

    def smuggled(self):
        body = b'{"app": "te", "component": "victim"}'
        return (b"POST /checkout HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                % (len(body), body))

    def test_a_coding_other_than_chunked_gets_501_and_the_connection_is_closed(self):
        g = self.server()
        g.reserve("te", "victim", 1, "hours")
        inner = self.smuggled()
        chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(inner), inner)
        cases = [(b"xchunked", inner), (b"gzip", inner), (b"identity", inner),
                 (b"gzip, chunked", chunked)]
        for coding, body in cases:
            with self.subTest(coding=coding):
                s = raw_request(g.port, b"POST /checkin HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                b"Content-Type: application/json\r\n"
                                b"Transfer-Encoding: " + coding + b"\r\n\r\n" + body)
                status, head, answer = read_response(s)
                self.assertEqual(status, 501, head)
                self.assertIn(b'"success":false', answer)
                self.assertIn(b"Transfer-Encoding", answer)
                rest = read_to_end(s)
                s.close()
                self.assertEqual(rest, b"", "a second answer on the connection: %r" % rest)
        self.assertIsNotNone(g.job("te", "victim"), "the smuggled checkout was served")

    def test_chunked_bodies_still_work(self):
        g = self.server()
        body = b'{"app": "te", "component": "ok", "frequency": 1, "time_units": "hours"}'
        s = raw_request(g.port, b"POST /reservation HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                        b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                        + b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))
        status, head, _ = read_response(s)
        s.close()
        self.assertEqual(status, 200, head)
        self.assertIsNotNone(g.job("te", "ok"))


class SlowClientTest(GotelTestCase):
    def test_trickled_headers_are_cut_off_by_the_read_timeout(self):
        g = self.server(args=["--set", "server.read_timeout_ms=600",
                              "--set", "server.idle_timeout_ms=20000"])
        s = raw_request(g.port, b"POST /checkin HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        start = time.monotonic()
        closed = False
        try:
            for i in range(40):  # one header byte every 100 ms, for up to 4 s
                s.sendall(b"X"[:1])
                time.sleep(0.1)
        except (BrokenPipeError, ConnectionResetError):
            closed = True
        closed = closed or closed_within(s, 3)
        elapsed = time.monotonic() - start
        self.assertTrue(closed, "a slowloris client kept its connection")
        self.assertLess(elapsed, 5, "cut off only after %.1fs" % elapsed)
        s.close()
        self.assertEqual(g.get("/").status, 200)

    def test_idle_keep_alive_outlives_the_read_timeout(self):
        g = self.server(args=["--set", "server.read_timeout_ms=300",
                              "--set", "server.idle_timeout_ms=20000"])
        s = raw_request(g.port, get_request())
        self.assertEqual(read_response(s)[0], 200)
        time.sleep(1.0)  # idle between requests: only the idle timeout applies
        s.sendall(get_request())
        self.assertEqual(read_response(s)[0], 200)
        s.close()

    def test_oversized_headers_get_431(self):
        g = self.server(args=["--set", "server.max_header_bytes=1024"])
        s = raw_request(g.port, b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: " + b"a" * 2000 + b"\r\n\r\n")
        status, head, body = read_response(s)
        self.assertEqual(status, 431, head)
        s.close()


if __name__ == "__main__":
    unittest.main()
