#!/usr/bin/python3
"""Turns the scenario results of benchmarks/run (one JSON object a line) into
benchmarks/results/<date>-<host>.json and .md, each figure beside its target
from issue 5 (and the HTTPS ones proposed with scenario 7) with pass/fail.
Standard library only."""

import argparse
import datetime
import json
import os
import platform
import socket

GIB = 1024 ** 3
MIB = 1024 ** 2


def load(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", required=True)
    ap.add_argument("--results", required=True)
    ap.add_argument("--json", required=True)
    ap.add_argument("--md", required=True)
    ap.add_argument("--command", required=True)
    ap.add_argument("--seconds", type=int, default=0)
    ap.add_argument("--revision", default="unknown")
    ap.add_argument("--build-type", default="unknown")
    a = ap.parse_args()
    steps = load(a.results)

    def find(step, **match):
        for s in steps:
            if s.get("step") == step and all(s.get(k) == v for k, v in match.items()):
                return s
        return None

    rows = []  # (scenario, figure, value, target, result)

    def row(scenario, figure, value, target="", result=""):
        rows.append({"scenario": scenario, "figure": figure, "value": value,
                     "target": target, "result": result})

    def verdict(ok):
        return "pass" if ok else "FAIL"

    # 1. memory and start-up
    creates = [s for s in steps if s.get("step") == "memory"]
    restarts = {s.get("restored"): s for s in steps if s.get("step") == "restart"}
    bpr_largest = None
    for c in creates:
        n = c.get("count")
        label = f"{n:,} reservations"
        if "skipped" in c:
            row("1. memory", f"RSS at {label}",
                f"skipped: {c['skipped']} (projected {c['projected_bytes'] / GIB:.1f} GiB, "
                f"available {c['available_bytes'] / GIB:.1f} GiB)")
            continue
        if "error" in c:
            row("1. memory", f"RSS at {label}", "broken: " + c["error"], "", "broken")
            continue
        rss = c["rss_bytes"]
        bpr_largest = c["bytes_per_reservation"]
        target, result = "", ""
        if n == 1_000_000:
            target, result = "<= 1 GiB", verdict(rss <= GIB)
        elif n == 5_000_000:
            target, result = "fits comfortably in 24 GiB", verdict(rss <= 24 * GIB)
        row("1. memory", f"RSS at {label} (in-process)",
            f"{rss / MIB:,.0f} MiB ({c['bytes_per_reservation']:,.0f} B per reservation)",
            target, result)
        row("1. memory", f"create {label} in-process",
            f"{c['create_s']:.2f} s ({c['create_per_s']:,.0f}/s)")
        r = restarts.get(n)
        if r:
            target, result = "", ""
            if n == 1_000_000:
                target, result = "<= 5 s", verdict(r["serving_s"] <= 5 and r["served"])
            row("1. restart", f"restore {label} from RocksDB, re-arm every deadline, serve",
                f"{r['serving_s']:.2f} s (restore {r['start_s']:.2f} s, re-armed "
                f"{r['rearmed_s']:.2f} s; RSS {r['rss_bytes'] / MIB:,.0f} MiB)",
                target, result)
    sizes = [c.get("count") for c in creates if "rss_bytes" in c]
    if 1_000_000 not in sizes and bpr_largest is not None:
        est = bpr_largest * 1_000_000
        row("1. memory", "RSS at 1M reservations (extrapolated from the largest size run)",
            f"~{est / MIB:,.0f} MiB + base", "<= 1 GiB", "n/a (not measured)")
    if 5_000_000 not in sizes and bpr_largest is not None:
        est = bpr_largest * 5_000_000
        row("1. memory", "RSS at 5M reservations (extrapolated from the largest size run)",
            f"~{est / GIB:,.1f} GiB + base", "fits comfortably in 24 GiB", "n/a (not measured)")

    for label in ("synced", "unsynced"):
        r = find("api-reserve-" + label)
        if r and "error" not in r:
            row("1. memory", f"create reservations through the API ({label})",
                f"{r['requests']:,} in {r['seconds']:.2f} s ({r['rps']:,.0f}/s, "
                f"{r['errors']} errors)")

    # 2. HTTP checkins vs nginx
    g = find("http-checkin-synced")
    ng = find("http-nginx")
    if g and "error" not in g:
        row("2. HTTP", f"durable checkins/s, {g['connections']} connections",
            f"{g['rps']:,.0f}/s ({g['errors']} errors)")
        row("2. HTTP", "checkin latency p50 / p99 / p999",
            f"{g['p50_ms']:.2f} / {g['p99_ms']:.2f} / {g['p999_ms']:.2f} ms",
            "p99 <= 10 ms", verdict(g["p99_ms"] <= 10))
    if ng and "error" not in ng:
        row("2. HTTP", "nginx static file (the ceiling), same client",
            f"{ng['rps']:,.0f} req/s, p99 {ng['p99_ms']:.2f} ms")
    if g and ng and "error" not in g and "error" not in ng and ng["rps"] > 0:
        ratio = g["rps"] / ng["rps"]
        row("2. HTTP", "GoTel durable checkins / nginx ceiling", f"{ratio:.0%}", ">= 50%",
            verdict(ratio >= 0.5))

    # 3. in-process
    for step, label in (("inproc", "synced group commit"), ("inproc-unsynced", "unsynced")):
        r = find(step)
        if r and "error" not in r:
            row("3. in-process", f"checkins/s through reservation actors ({label})",
                f"{r['checkins_per_s']:,.0f}/s ({r['clients']} clients x {r['window']} "
                f"outstanding, {r['reservations']:,} reservations)")

    # 4. deadlines
    d = find("deadlines")
    if d and "error" not in d:
        n = d["count"]
        at_scale = n >= 1_000_000
        row("4. deadlines", f"detection lateness at {n:,} live reservations (p50 / p99 / max)",
            f"{d['detect_p50_ms']} / {d['detect_p99_ms']} / {d['detect_max_ms']} ms "
            f"({d['alerts']:,} alerts)",
            "p99 <= 100 ms at 1M",
            verdict(d["detect_p99_ms"] <= 100) if at_scale
            else f"{verdict(d['detect_p99_ms'] <= 100)} (at {n:,}, not 1M)")
        row("4. deadlines", "due -> intent persisted and at the channel (p50 / p99 / max)",
            f"{d['persisted_p50_ms']} / {d['persisted_p99_ms']} / {d['persisted_max_ms']} ms")
    s = find("storm")
    if s and "error" not in s:
        n = s["count"]
        at_scale = n >= 1_000_000
        ok = s["persisted_max_ms"] <= 2000 and s["alerts"] == n
        row("4. storm", f"{n:,} deadlines in one second: every one detected and persisted "
            "within (max per deadline)",
            f"{s['persisted_max_ms']:,} ms (detected within {s['detect_max_ms']:,} ms; "
            f"all persisted {s['all_persisted_after_last_due_ms']:,} ms after the last was due; "
            f"{s['alerts']:,} alerts)",
            "<= 2 s at 1M", verdict(ok) if at_scale else f"{verdict(ok)} (at {n:,}, not 1M)")

    # 5. durability
    gu = find("http-checkin-unsynced")
    if g and gu and "error" not in g and "error" not in gu:
        row("5. durability", "HTTP checkins/s synced vs unsynced",
            f"{g['rps']:,.0f} vs {gu['rps']:,.0f} (synced = {g['rps'] / max(gu['rps'], 1):.0%})")
    ip, iu = find("inproc"), find("inproc-unsynced")
    if ip and iu and "error" not in ip and "error" not in iu:
        row("5. durability", "in-process checkins/s synced vs unsynced",
            f"{ip['checkins_per_s']:,.0f} vs {iu['checkins_per_s']:,.0f} "
            f"(synced = {ip['checkins_per_s'] / max(iu['checkins_per_s'], 1):.0%})")

    # 6. failover
    f = find("failover")
    if f and f.get("completed"):
        n, done = f["repetitions"], f["completed"]
        target_s = f["failure_timeout_ms"] / 1000 + 1
        target = f"<= failure timeout + 1 s = {target_s:g} s"
        reps = f"{done} of {n} repetitions" if done != n else f"{n} repetitions"
        row("6. failover", f"kill -9 of the coordinator -> first \"late\" webhook from the new "
            f"one (p50 / max over {reps}; heartbeat {f['heartbeat_ms']} ms, failure timeout "
            f"{f['failure_timeout_ms']} ms)",
            f"{f['alert_p50_s']:.2f} / {f['alert_max_s']:.2f} s "
            f"({f['within_target']} of {done} within the target)",
            target, verdict(f["alert_max_s"] <= target_s))
        row("6. failover", "kill -9 of the coordinator -> a survivor answers /is-coordinator "
            "true (p50 / max)",
            f"{f['takeover_p50_s']:.2f} / {f['takeover_max_s']:.2f} s",
            target, verdict(f["takeover_max_s"] <= target_s))
        lags = [r["replica_lag_ms"] for r in f["runs"] if "replica_lag_ms" in r]
        if lags:
            early = sum(1 for r in f["runs"] if not r.get("listed_on_peers_at_ack", True))
            row("6. failover", "2xx of a reservation on the coordinator -> both peers list it "
                "(max)",
                f"{max(lags):.0f} ms; not yet on them at the 2xx in {early} of {len(lags)} "
                f"repetitions (docs/cluster.md promises it; benchmarks/README.md, 6.)")
    elif f and "skipped" in f:
        row("6. failover", "kill -9 of the coordinator -> first alert from the new one",
            "skipped: " + f["skipped"], "<= failure timeout + 1 s", "n/a")

    # 7. the cost of HTTPS: the same daemon with and without server.tls_cert
    def ok(step):
        r = find(step)
        return r if r and "error" not in r else None

    new = {scheme: ok("https-new-" + scheme) for scheme in ("http", "https")}
    for scheme, r in new.items():
        if not r:
            continue
        what = ("new connection + TLS handshake + one checkin, HTTPS" if scheme == "https"
                else "new connection + one checkin, plain HTTP")
        value = (f"{r['p50_ms']:.2f} / {r['p99_ms']:.2f} / {r['mean_ms']:.2f} ms "
                 f"(connect{' + handshake' if scheme == 'https' else ''} alone p50 "
                 f"{r['connect_p50_ms']:.2f} ms; {r['requests']:,} connections one after the "
                 f"other, {r['errors']} errors{'; ' + r['tls'] if 'tls' in r else ''})")
        row("7. HTTPS", what + " (p50 / p99 / mean)", value)
    if new["http"] and new["https"]:
        added = new["https"]["p50_ms"] - new["http"]["p50_ms"]
        row("7. HTTPS", "what TLS adds to a new connection + checkin (p50 / mean)",
            f"+{added:.2f} / +{new['https']['mean_ms'] - new['http']['mean_ms']:.2f} ms",
            "p50 <= +2 ms", verdict(added <= 2 and new["https"]["errors"] == 0))
    keep = {scheme: ok("https-keepalive-" + scheme) for scheme in ("http", "https")}
    for scheme, r in keep.items():
        if not r:
            continue
        target, result = "", ""
        h = keep["http"]
        if scheme == "https" and h:
            target = f"p99 <= 2x plain HTTP's = {2 * h['p99_ms']:.2f} ms"
            result = verdict(r["p99_ms"] <= 2 * h["p99_ms"] and r["errors"] == 0)
        row("7. HTTPS", f"checkins on one keep-alive connection, "
            f"{'HTTPS' if scheme == 'https' else 'plain HTTP'} (p50 / p99; throughput)",
            f"{r['p50_ms']:.3f} / {r['p99_ms']:.3f} ms; {r['rps']:,.0f}/s "
            f"({r['requests']:,} requests, {r['errors']} errors)", target, result)

    # 8. reading at scale (issue 15 section 7)
    rd = find("reading")
    if rd and "error" not in rd:
        n = f"{rd['count']:,}"
        avg = rd.get("loadavg")
        where = f" (load average {avg[0]:.1f} at start)" if avg else ""

        def kib(b):
            return f"{b / 1024:,.1f} KiB" if b < 10 * MIB else f"{b / MIB:,.1f} MiB"
        row("8. reading", f"GET /status (web UI, first page) at {n}{where}",
            f"{kib(rd['status_page_bytes'])} in {rd['status_page_ms']:,.1f} ms",
            "<= 1 s", verdict(rd["status_page_ms"] <= 1000))
        row("8. reading", f"GET /metrics at {n} (no tags selected)",
            f"{kib(rd['metrics_bytes'])} in {rd['metrics_ms']:,.1f} ms",
            "<= 64 KiB, whatever N", verdict(rd["metrics_bytes"] <= 64 * 1024))
        row("8. reading", f"GET /api/v1/reservations (first page, 500 rows) at {n}",
            f"{kib(rd['api_page_bytes'])} in {rd['api_page_ms']:,.1f} ms "
            f"(100 rows: {rd['api_page_100_ms']:,.1f} ms)",
            "<= 1 s", verdict(rd["api_page_ms"] <= 1000))
        row("8. reading", f"GET /api/v1/status at {n}", f"{rd['api_status_ms']:,.1f} ms",
            "<= 100 ms (counters, no scan)", verdict(rd["api_status_ms"] <= 100))
        row("8. reading", f"GET /api/v1/reservations?status=late at {n}, none late (the coordinator's late keys, no scan)",
            f"{kib(rd['api_late_bytes'])} in {rd['api_late_ms']:,.1f} ms")
        row("8. reading", f"GET /api/v1/reservations?q=... at {n} (search, a full pass)",
            f"{kib(rd['api_search_bytes'])} in {rd['api_search_ms']:,.1f} ms")
        growth = rd["listing_rss_peak_bytes"] - rd["listing_rss_before_bytes"]
        row("8. reading", f"GET /reservation (every row) at {n}: streamed, RSS while streaming",
            f"{rd['listing_bytes'] / MIB:,.1f} MiB in {rd['listing_s']:,.1f} s, "
            f"{'chunked' if rd['listing_chunked'] else 'NOT chunked'}; RSS "
            f"{rd['listing_rss_before_bytes'] / MIB:,.0f} MiB before, peak "
            f"{rd['listing_rss_peak_bytes'] / MIB:,.0f} MiB (+{growth / MIB:,.0f} MiB)",
            "chunked, RSS growth < 1/4 of the body",
            verdict(rd["listing_chunked"] and growth < rd["listing_bytes"] / 4))

    broken = [s for s in steps if "error" in s]
    for b in broken:
        row("broken", b["step"], b["error"], "", "broken")

    host = socket.gethostname()
    meta = {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "host": host,
        "mode": a.mode,
        "command": a.command,
        "cores": os.cpu_count(),
        "kernel": platform.release(),
        "mem_total_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / GIB, 1),
        "wall_seconds": a.seconds,
        "revision": a.revision,
        "build_type": a.build_type,
    }
    with open(a.json, "w") as out:
        json.dump({"meta": meta, "figures": rows, "raw": steps}, out, indent=1)
        out.write("\n")

    lines = [
        f"GoTel benchmarks, `{a.command}` ({a.mode} mode) on {host}, {meta['date']}, "
        f"source {a.revision}, {a.build_type} build: "
        f"{meta['cores']} cores, {meta['mem_total_gib']} GiB; loads and server share the cores, "
        f"and other work on the machine adds noise. Took {a.seconds} s.",
        "",
        "| scenario | figure | measured | target | result |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['scenario']} | {r['figure']} | {r['value']} | {r['target']} | "
                     f"{r['result']} |")
    with open(a.md, "w") as out:
        out.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
