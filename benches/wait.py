#!/usr/bin/env python3
"""WAIT and synchronous replication beside Redis, in one run.

    python3 benches/wait.py                # both parts
    python3 benches/wait.py wait           # or: sync
    N=2000 ROUNDS=3 python3 benches/wait.py
    FSYNC=always REPLICAS=1 python3 benches/wait.py wait

wait    For 1 and 2 replicas and `appendfsync everysec` and `always` (on
        every node): N times `SET k v` then `WAIT <replicas> 200` from
        redis-py, on a sledis master and on a Redis master, alternating in
        ROUNDS rounds. Prints the median and p99 of a SET+WAIT pair and
        sledis/Redis of the medians.
sync    One sledis master and one replica (everysec): N single SETs from
        one client (latency) and `redis-benchmark -t set -c 50 -n SYNC_N`
        and `-P 16 -n 4*SYNC_N` (throughput), with the asynchronous default and with
        `sync-replicas 1`; Redis (asynchronous, it has no such mode) for
        reference.

Every node gets its own temp dir and ports from BASE_PORT; every process
is stopped by its PID at the end. Redis runs with `appendonly yes`.
"""
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import redis

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
N = int(os.environ.get("N", "500"))
ROUNDS = int(os.environ.get("ROUNDS", "3"))
SYNC_N = int(os.environ.get("SYNC_N", "100000"))
BASE = int(os.environ.get("BASE_PORT", "7500"))
# Seconds to let new nodes settle before measuring (under `always` a fresh
# sledis node zero-fills a 64 MiB spare WAL segment in the background).
SETTLE = float(os.environ.get("SETTLE", "0"))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
SLEDIS = os.environ.get("SLEDIS", os.path.join(TARGET, "release", "sledis-server"))

procs = []
tmp = tempfile.mkdtemp(prefix="sledis-wait-bench-")


def start(kind, port, fsync, *extra):
    d = tempfile.mkdtemp(prefix=f"{kind}-{port}-", dir=tmp)
    log = os.path.join(d, "log")
    if kind == "sledis":
        cmd = [SLEDIS, "--port", str(port), "--dir", d, "--appendfsync", fsync,
               "--save", "", "--logfile", log]
    else:
        cmd = ["redis-server", "--port", str(port), "--dir", d, "--appendonly", "yes",
               "--appendfsync", fsync, "--save", "", "--logfile", log]
    p = subprocess.Popen(cmd + list(extra), stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    procs.append(p)
    c = redis.Redis(port=port, socket_timeout=60)
    deadline = time.time() + 20
    while True:
        try:
            c.ping()
            break
        except redis.exceptions.ConnectionError:
            if time.time() > deadline or p.poll() is not None:
                raise SystemExit(f"{kind} on {port} did not start (see {log})")
            time.sleep(0.05)
    return p, c


def stop(p):
    p.kill()
    p.wait()
    procs.remove(p)


def group(kind, port, replicas, fsync, *extra):
    """A master on `port` and `replicas` replicas after it, linked up."""
    m, mc = start(kind, port, fsync, *extra)
    rs = []
    for i in range(replicas):
        rp = port + 1 + i
        r, rc = start(kind, rp, fsync, "--replicaof", f"127.0.0.1 {port}")
        rs.append(r)
        deadline = time.time() + 30
        while rc.info("replication").get("master_link_status") != "up":
            if time.time() > deadline:
                raise SystemExit(f"{kind} replica {rp} did not link up")
            time.sleep(0.05)
    # Every replica online on the master too.
    deadline = time.time() + 30
    while mc.info("replication").get("connected_slaves", 0) < replicas:
        if time.time() > deadline:
            raise SystemExit(f"{kind} master {port} does not see {replicas} replicas")
        time.sleep(0.05)
    return [m] + rs, mc


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))]


def set_wait(c, replicas, n, kind=""):
    """n SET+WAIT pairs; the time of each pair (ms). Fails loudly on a short WAIT."""
    out = []
    short = 0
    for i in range(n):
        t0 = time.perf_counter()
        c.set(f"k{i % 1000}", "v")
        got = c.execute_command("WAIT", replicas, 200)
        out.append((time.perf_counter() - t0) * 1000)
        if got < replicas:
            short += 1
    if short:
        print(f"    ({kind}: {short} of {n} WAITs returned fewer than {replicas})")
    return out


def part_wait():
    print(f"== SET + WAIT <replicas> 200, {N} pairs per round, {ROUNDS} rounds (ms)")
    print(f"{'fsync':9} {'replicas':8} {'sledis med':>10} {'p99':>6} {'redis med':>10} {'p99':>6} {'ratio':>6}")
    for fsync in os.environ.get("FSYNC", "everysec,always").split(","):
        for replicas in [int(x) for x in os.environ.get("REPLICAS", "1,2").split(",")]:
            nodes_s, cs = group("sledis", BASE, replicas, fsync)
            nodes_r, cr = group("redis", BASE + 10, replicas, fsync)
            s_all, r_all = [], []
            time.sleep(SETTLE)
            set_wait(cs, replicas, 50)  # warm up
            set_wait(cr, replicas, 50)
            for _ in range(ROUNDS):
                s_all += set_wait(cs, replicas, N, "sledis")
                r_all += set_wait(cr, replicas, N, "redis")
            sm, rm = statistics.median(s_all), statistics.median(r_all)
            print(f"{fsync:9} {replicas:<8} {sm:10.3f} {pct(s_all, 0.99):6.3f} "
                  f"{rm:10.3f} {pct(r_all, 0.99):6.3f} {sm / rm:6.2f}", flush=True)
            for p in nodes_s + nodes_r:
                stop(p)


def bench_set(port, n, pipeline=1):
    """redis-benchmark -t set, 50 clients: requests per second."""
    out = subprocess.run(
        ["redis-benchmark", "-p", str(port), "-t", "set", "-c", "50", "-n", str(n),
         "-r", "100000", "-P", str(pipeline), "-q"],
        capture_output=True, text=True, check=True).stdout
    m = re.findall(r"SET: ([\d.]+) requests per second", out)
    return float(m[-1]) if m else float("nan")


def single_sets(c, n):
    out = []
    for i in range(n):
        t0 = time.perf_counter()
        c.set(f"s{i % 1000}", "v")
        out.append((time.perf_counter() - t0) * 1000)
    return out


def part_sync():
    print(f"\n== sync-replicas: 1 master + 1 replica, everysec; {N} single SETs per round "
          f"(ms), redis-benchmark -t set -c 50 -n {SYNC_N}")
    print(f"{'mode':22} {'SET med':>8} {'p99':>6} {'SET/s (-c 50)':>14} {'-P 16':>8}")
    rows = [("sledis async", "sledis", ()),
            ("sledis sync-replicas 1", "sledis", ("--sync-replicas", "1")),
            ("redis (async)", "redis", ())]
    for name, kind, extra in rows:
        nodes, c = group(kind, BASE + 20, 1, "everysec", *extra)
        single_sets(c, 50)
        lat = []
        for _ in range(ROUNDS):
            lat += single_sets(c, N)
        tput = bench_set(BASE + 20, SYNC_N)
        tput16 = bench_set(BASE + 20, SYNC_N * 4, 16)
        print(f"{name:22} {statistics.median(lat):8.3f} {pct(lat, 0.99):6.3f} {tput:14.0f} "
              f"{tput16:8.0f}", flush=True)
        for p in nodes:
            stop(p)


def main():
    parts = sys.argv[1:] or ["wait", "sync"]
    print(f"sledis: {SLEDIS}")
    print(subprocess.run(["redis-server", "--version"], capture_output=True,
                         text=True).stdout.strip())
    try:
        if "wait" in parts:
            part_wait()
        if "sync" in parts:
            part_sync()
    finally:
        for p in list(procs):
            stop(p)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
