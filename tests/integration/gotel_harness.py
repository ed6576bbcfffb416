"""Shared helpers for GoTel's cross-process tests (stdlib only).

Starts the real `gotel` binary (path in GOTEL_BIN) on 127.0.0.1 with an
ephemeral port and a fresh data directory, talks to it over HTTP/1.1 (or
HTTPS, given an ssl.SSLContext) with keep-alive off, and runs a small local
webhook receiver. Every wait here is
bounded by a deadline; all traffic stays on 127.0.0.1.
"""

import http.client
import http.server
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

HOST = "127.0.0.1"
DEFAULT_WAIT_S = 10.0
# How sanitizer reports begin (scripts/test-sanitizers builds gotel with them).
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error: ",
                     "WARNING: ThreadSanitizer")


def gotel_bin():
    path = os.environ.get("GOTEL_BIN")
    if not path:
        src = os.environ.get("GOTEL_SOURCE_DIR") or os.path.join(
            os.path.dirname(os.path.abspath(__file__)), "..", "..")
        path = os.path.join(src, "build", "gotel")
    return path


def _ephemeral_range():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low, high = (int(x) for x in f.read().split())
            return low, high
    except (OSError, ValueError):
        return 32768, 60999


_handed_out = set()


def free_port():
    """A TCP port on HOST that was free a moment ago (for configs that must
    name ports before the process binds them). It is picked below the kernel's
    ephemeral range: a port from that range can be taken, before the process
    binds it, by any outgoing connection's source port (a node dialling a peer
    that is not up yet; seen as "cannot listen for the cluster")."""
    low, _ = _ephemeral_range()
    top = min(low, 65536) - 1
    rng = random.Random(os.getpid() ^ time.monotonic_ns())
    for _ in range(200):
        port = rng.randint(max(1024, top - 12000), top)
        if port in _handed_out:
            continue
        with socket.socket() as s:
            try:
                s.bind((HOST, port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def closed_within(sock, seconds):
    """True when the peer closes `sock` within `seconds` (EOF or reset)."""
    sock.settimeout(seconds)
    try:
        while True:
            if not sock.recv(4096):
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def wait_until(predicate, timeout=DEFAULT_WAIT_S, interval=0.05):
    """Polls `predicate` until it returns a truthy value or `timeout` passes.

    Returns the last value (falsy on timeout); never loops unbounded.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # lower-cased name -> value
        self.body = body        # bytes

    @property
    def content_type(self):
        return self.headers.get("content-type", "")

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def json(self, **kw):
        return json.loads(self.body.decode("utf-8"), **kw)

    def __repr__(self):
        return "Response(%d, %r, %r)" % (self.status, self.content_type, self.body[:300])


def http_request(port, method, path, body=None, timeout=10.0, headers=None, ssl_context=None):
    """One request on its own connection (Connection: close).

    `body` may be bytes, str (sent as is) or any other value (sent as JSON).
    With `ssl_context` (an ssl.SSLContext) the request goes over HTTPS.
    """
    if body is not None and not isinstance(body, (bytes, str)):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode("utf-8")
    hdrs = {"Connection": "close"}
    if body is not None:
        hdrs["Content-Type"] = "application/json"
    if headers:
        hdrs.update(headers)
    if ssl_context is not None:
        conn = http.client.HTTPSConnection(HOST, port, timeout=timeout, context=ssl_context)
    else:
        conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=hdrs)
        resp = conn.getresponse()
        data = resp.read()
        return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
    finally:
        conn.close()


def run_gotel(args, timeout=20.0):
    """Runs gotel to completion (for a start that must fail) with no GOTEL_*
    variables and a fresh data directory. Returns (CompletedProcess, whether the
    data directory was created)."""
    tmp = tempfile.mkdtemp(prefix="gotel-run-")
    data_dir = os.path.join(tmp, "data")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOTEL_")}
    try:
        out = subprocess.run([gotel_bin(), "--data-dir", data_dir, "--listen", HOST + ":0"]
                             + list(args), capture_output=True, text=True, timeout=timeout,
                             env=env, stdin=subprocess.DEVNULL)
        return out, os.path.exists(data_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class GotelServer:
    """One gotel process on a data directory; restartable on the same directory.

    With `ssl_context`, request() and its shorthands speak HTTPS to it;
    `preexec_fn` runs in the child before gotel starts (e.g. to lower a limit).
    """

    def __init__(self, data_dir=None, env=None, args=None, ssl_context=None, preexec_fn=None):
        self.tmp = tempfile.mkdtemp(prefix="gotel-it-")
        self.data_dir = data_dir or os.path.join(self.tmp, "data")
        self.port_file = os.path.join(self.tmp, "port")
        self.log_path = os.path.join(self.tmp, "gotel.log")
        self.env = dict(env or {})
        self.args = list(args or [])
        self.ssl_context = ssl_context
        self.preexec_fn = preexec_fn
        self.proc = None
        self.port = None
        self._log = None

    # -- lifecycle ---------------------------------------------------------

    def start(self, timeout=DEFAULT_WAIT_S):
        assert self.proc is None, "already running"
        if os.path.exists(self.port_file):
            os.unlink(self.port_file)
        env = {k: v for k, v in os.environ.items() if not k.startswith("GOTEL_")}
        env.update(self.env)
        cmd = [gotel_bin(), "--data-dir", self.data_dir, "--listen", HOST + ":0",
               "--port-file", self.port_file] + self.args
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=env,
                                     preexec_fn=self.preexec_fn)
        self.start_time = time.monotonic()

        def port_ready():
            if self.proc.poll() is not None:
                return "exited"
            try:
                with open(self.port_file) as f:
                    text = f.read().strip()
                return int(text) if text else None
            except (OSError, ValueError):
                return None

        got = wait_until(port_ready, timeout)
        if got == "exited" or not got:
            why = "exited with %s" % self.proc.returncode if got == "exited" else "no port file"
            self.kill()
            raise AssertionError("gotel did not start (%s); log:\n%s" % (why, self.log_tail()))
        self.port = got
        return self

    def stop(self, timeout=DEFAULT_WAIT_S):
        """SIGTERM and wait for a clean exit; returns the exit code."""
        if self.proc is None:
            return None
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=timeout)
            self._closed()
            raise AssertionError("gotel ignored SIGTERM for %ss; log:\n%s"
                                 % (timeout, self.log_tail()))
        self._closed()
        return code

    def kill(self):
        """SIGKILL (a crash); waits for the process to be gone."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.kill()
        code = self.proc.wait(timeout=DEFAULT_WAIT_S)
        self._closed()
        return code

    def _closed(self):
        self.proc = None
        self.port = None
        if self._log:
            self._log.close()
            self._log = None

    def cleanup(self):
        """Kills a leftover process and removes the temp directory."""
        try:
            self.kill()
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def sanitizer_report(self):
        """The log from the first sanitizer report on (ASan, LSan, UBSan, TSan), or None.

        A report aborts the process, but a process that aborts after a test's last
        request, or that the test then kills, would otherwise pass unnoticed.
        """
        try:
            with open(self.log_path, "rb") as f:
                text = f.read().decode("utf-8", "replace")
        except OSError:
            return None
        starts = [i for i in (text.find(m) for m in SANITIZER_MARKERS) if i >= 0]
        return text[min(starts):][:8000] if starts else None

    def log_tail(self, n=40):
        try:
            with open(self.log_path, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
            return "\n".join(lines[-n:])
        except OSError:
            return "(no log)"

    # -- HTTP --------------------------------------------------------------

    def request(self, method, path, body=None, **kw):
        assert self.port, "gotel is not running"
        kw.setdefault("ssl_context", self.ssl_context)
        return http_request(self.port, method, path, body, **kw)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body, **kw)

    def listing(self):
        """GET /reservation's result list (asserts 200)."""
        r = self.get("/reservation")
        if r.status != 200:
            raise AssertionError("GET /reservation: %r" % r)
        return r.json()["result"]

    def user_jobs(self):
        """The listing without the cluster's own gotel/* reservations."""
        return [j for j in self.listing() if j["app"].strip().lower() != "gotel"]

    def job(self, app, component):
        for j in self.listing():
            if j["app"] == app and j["component"] == component:
                return j
        return None

    def reserve(self, app, component, frequency=1, time_units="hours", **extra):
        body = {"app": app, "component": component, "frequency": frequency,
                "time_units": time_units}
        body.update(extra)
        # A 503 says retry: a peer did not confirm in time, or the request waited
        # out server.request_timeout_ms on a machine busy with a build. A
        # reservation is an upsert, so retrying (bounded) is what a client does.
        deadline = time.monotonic() + 20
        while True:
            r = self.post("/reservation", body)
            if r.status == 200:
                return r
            if r.status != 503 or time.monotonic() > deadline:
                raise AssertionError("POST /reservation %r: %r" % (body, r))
            time.sleep(0.2)

    def checkin(self, app, component, **extra):
        body = {"app": app, "component": component}
        body.update(extra)
        return self.post("/checkin", body)


class WebhookReceiver:
    """A threaded HTTP server on 127.0.0.1:0 recording every POSTed body.

    Answers 500 to the first `fail_first` requests, 200 afterwards.
    """

    def __init__(self, fail_first=0):
        self.fail_first = fail_first
        self.requests = []   # every request seen: (status answered, raw body)
        self.bodies = []     # parsed JSON bodies of requests answered 200
        self.cond = threading.Condition()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                with receiver.cond:
                    fail = len(receiver.requests) < receiver.fail_first
                    status = 500 if fail else 200
                    receiver.requests.append((status, raw, self.headers.get("Content-Type")))
                    if not fail:
                        try:
                            receiver.bodies.append(json.loads(raw.decode("utf-8")))
                        except ValueError:
                            receiver.bodies.append({"_unparsable": raw})
                    receiver.cond.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.send_header("Connection", "close")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer((HOST, 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return "http://%s:%d/hook" % (HOST, self.server.server_address[1])

    def events(self, event=None, app=None):
        with self.cond:
            return [b for b in self.bodies
                    if (event is None or b.get("event") == event)
                    and (app is None or b.get("app") == app)]

    def wait_for(self, event, app=None, timeout=DEFAULT_WAIT_S):
        """The first delivered body with this event (and app), or None after `timeout`."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for b in self.bodies:
                    if b.get("event") == event and (app is None or b.get("app") == app):
                        return b
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(left)

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=DEFAULT_WAIT_S)


class GotelTestCase(unittest.TestCase):
    """Starts servers through `self.server(...)`; tearDown kills what is left."""

    def setUp(self):
        self._servers = []
        self._receivers = []
        if not os.access(gotel_bin(), os.X_OK):
            self.fail("GOTEL_BIN does not point at an executable: %s" % gotel_bin())

    def tearDown(self):
        reports = []
        failed = self._outcome_failed()
        keep = os.path.join(tempfile.gettempdir(), "gotel-failed-logs", self.id()) if failed else None
        for i, s in enumerate(self._servers):
            if s.alive() and failed:
                print("\n--- gotel log tail (%s) ---\n%s" % (self.id(), s.log_tail()))
            s.kill()
            if keep and os.path.exists(s.log_path):
                # Whole logs (killed nodes too) outlive the temp dirs, to read later.
                os.makedirs(keep, exist_ok=True)
                shutil.copy(s.log_path, os.path.join(keep, "server-%d.log" % i))
                print("full log of server %d: %s/server-%d.log" % (i, keep, i))
            report = s.sanitizer_report()
            if report:
                reports.append(report)
            s.cleanup()
        for r in self._receivers:
            r.close()
        if reports:
            self.fail("sanitizer report from gotel:\n" + "\n".join(reports))

    def _outcome_failed(self):
        outcome = getattr(self, "_outcome", None)
        result = getattr(outcome, "result", None)
        if result is None:
            return False
        return bool(result.failures or result.errors)

    def server(self, env=None, args=None, start=True, data_dir=None, ssl_context=None,
               preexec_fn=None):
        s = GotelServer(data_dir=data_dir, env=env, args=args, ssl_context=ssl_context,
                        preexec_fn=preexec_fn)
        self._servers.append(s)
        if start:
            s.start()
        return s

    def receiver(self, fail_first=0):
        r = WebhookReceiver(fail_first)
        self._receivers.append(r)
        return r

    def assertJsonContentType(self, resp):
        ct = resp.content_type.split(";")[0].strip().lower()
        self.assertEqual(ct, "application/json", "Content-Type of %r" % resp)
