#!/usr/bin/python3
"""Scenario 8, reading at scale (issue 15 section 7): one `gotel` daemon with
N reservations (made with gotel_loadgen --mode reserve, unsynced), then the
size and time of what a browser, a Prometheus and a script read:
GET /status (the web UI with its first page), /metrics, one page of
/api/v1/reservations (what a client without a cursor gets), /api/v1/status,
/api/v1/reservations?status=late (first page; none is late: the
coordinator's late keys, no scan), and GET /reservation (every row, streamed) with
the daemon's RSS sampled every 20 ms while it streams. Standard library only;
everything on 127.0.0.1; bounded in count and time; the daemon is stopped.
Prints progress on stderr and one JSON line on stdout."""

import argparse
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HOST = "127.0.0.1"


def log(msg):
    print("   reading: " + msg, file=sys.stderr, flush=True)


def rss_bytes(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def fetch(port, path, timeout=600):
    """(status, bytes, seconds, headers): the body is read in pieces and only counted."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    t0 = time.monotonic()
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        n = 0
        first = b""
        while True:
            piece = r.read(1 << 16)
            if not piece:
                break
            if len(first) < 4096:
                first += piece[:4096 - len(first)]
            n += len(piece)
        return r.status, n, time.monotonic() - t0, dict(r.getheaders()), first
    finally:
        conn.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gotel", required=True)
    ap.add_argument("--loadgen", required=True)
    ap.add_argument("--count", type=int, default=20000)
    ap.add_argument("--work", default=None)
    ap.add_argument("--create-timeout", type=int, default=1800)
    a = ap.parse_args()

    load_at_start = os.getloadavg()
    work = tempfile.mkdtemp(prefix="gotel-reading-", dir=a.work)
    proc = None
    try:
        port_file = os.path.join(work, "port")
        logf = open(os.path.join(work, "gotel.log"), "wb")
        proc = subprocess.Popen(
            [a.gotel, "--data-dir", os.path.join(work, "data"), "--listen", HOST + ":0",
             "--port-file", port_file, "--set", "alerts.log_alerter=false", "--set", "log.level=warn",
             "--set", "server.sync_writes=false", "--set", "server.max_reservations=0",
             "--set", "server.max_reservations_per_app=0"],
            stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        for _ in range(300):
            if os.path.exists(port_file) and open(port_file).read().strip():
                break
            if proc.poll() is not None:
                raise SystemExit("gotel exited: " + open(os.path.join(work, "gotel.log")).read()[-2000:])
            time.sleep(0.1)
        port = int(open(port_file).read())
        url = "http://%s:%d" % (HOST, port)

        log("creating %d reservations through the API (unsynced)" % a.count)
        t0 = time.monotonic()
        out = subprocess.run(
            [a.loadgen, "--url", url, "--mode", "reserve", "--reservations", str(a.count),
             "--connections", "16", "--threads", "2", "--duration", str(a.create_timeout)],
            capture_output=True, text=True, timeout=a.create_timeout + 60)
        create_s = time.monotonic() - t0
        made = json.loads([l for l in out.stdout.splitlines() if l.startswith("{")][-1])
        conn_status = fetch(port, "/api/v1/status")
        held = json.loads(conn_status[4])["reservations"]
        log("%d held after %.1f s (%d errors)" % (held, create_s, made.get("errors", -1)))
        # Besides them, the node lists its own rows (gotel/coordinator, gotel/<node>).
        own = 2
        if held != a.count + own:
            raise SystemExit("expected %d reservations and the node's own %d rows, the node holds %d"
                             % (a.count, own, held))

        result = {"scenario": "reading", "count": a.count, "create_s": round(create_s, 2),
                  "loadavg": [round(x, 2) for x in load_at_start],
                  "rss_idle_bytes": rss_bytes(proc.pid)}

        def measure(name, path, repeat=3):
            best = None
            for _ in range(repeat):
                st, n, s, headers, _ = fetch(port, path)
                if st != 200:
                    raise SystemExit("%s answered %d" % (path, st))
                if best is None or s < best[1]:
                    best = (n, s)
            result[name + "_bytes"] = best[0]
            result[name + "_ms"] = round(best[1] * 1000, 1)
            log("%-28s %12d bytes  %9.1f ms (best of %d)" % (path, best[0], best[1] * 1000, repeat))

        measure("status_page", "/status")
        measure("metrics", "/metrics")
        measure("api_page", "/api/v1/reservations")
        measure("api_page_100", "/api/v1/reservations?limit=100")
        measure("api_status", "/api/v1/status")
        measure("api_late", "/api/v1/reservations?status=late", repeat=1)
        measure("api_search", "/api/v1/reservations?q=app-99999&limit=50", repeat=1)

        # GET /reservation, every row, with the RSS sampled while it streams.
        samples = []
        stop = threading.Event()

        def sample():
            while not stop.is_set():
                samples.append(rss_bytes(proc.pid))
                stop.wait(0.02)

        before = rss_bytes(proc.pid)
        sampler = threading.Thread(target=sample)
        sampler.start()
        try:
            st, n, s, headers, _ = fetch(port, "/reservation", timeout=1800)
        finally:
            stop.set()
            sampler.join()
        if st != 200:
            raise SystemExit("/reservation answered %d" % st)
        result.update({
            "listing_bytes": n, "listing_s": round(s, 2),
            "listing_chunked": headers.get("Transfer-Encoding") == "chunked",
            "listing_rss_before_bytes": before,
            "listing_rss_peak_bytes": max(samples + [before]),
        })
        log("GET /reservation: %d bytes in %.1f s, chunked %s; RSS %d MiB before, peak %d MiB while streaming" % (
            n, s, result["listing_chunked"], before >> 20, result["listing_rss_peak_bytes"] >> 20))
        print(json.dumps(result), flush=True)
    finally:
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
