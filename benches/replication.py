#!/usr/bin/env python3
"""Replication beside Redis, in one run.

    python3 benches/replication.py                 # all three parts
    python3 benches/replication.py fullsync        # or: lag, throughput
    SETTLE=15 python3 benches/replication.py fullsync  # REPLICAOF 15 s after the load
    KEYS=200000 LAG_N=200000 python3 benches/replication.py

fullsync    1,000,000 keys of 100 B on a master, then an empty replica:
            the time from REPLICAOF to `master_link_status:up` with equal
            offsets, and the snapshot size. Redis disk-based
            (repl-diskless-sync no) and diskless (yes, delay 0).
lag         one master, one replica, `redis-benchmark -t set -P 16 -d 1024`
            on the master: master offset minus replica offset sampled every
            100 ms (median, max) and the time the replica needs to catch up
            once the load stops.
throughput  `redis-benchmark -t set` on a master with no replica and with
            two, in alternating rounds: the ratio (and, pinned, a control
            phase: no replica, CPU 1 busy).

Every node is durable the same way: sledis with its WAL (appendfsync
everysec), Redis with `appendonly yes`, `appendfsync everysec`. Each node
gets its own temp dir; all are killed by PID at the end.
"""
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import redis

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KEYS = int(os.environ.get("KEYS", "1000000"))
LAG_N = int(os.environ.get("LAG_N", "500000"))
TPUT_N = int(os.environ.get("TPUT_N", "200000"))
# Seconds between loading the master and REPLICAOF: sledis moves its write
# buffer into sled in the background for ~10 s after a big load.
SETTLE = float(os.environ.get("SETTLE", "0"))
BASE = int(os.environ.get("BASE_PORT", "7400"))
SLEDIS = os.path.join(ROOT, "target", "release", "sledis-server")

procs = []
tmp = tempfile.mkdtemp(prefix="sledis-repl-bench-")


def start(kind, port, *extra, cpus=None):
    d = tempfile.mkdtemp(prefix=f"{kind}-{port}-", dir=tmp)
    log = os.path.join(d, "log")
    if kind == "sledis":
        cmd = [SLEDIS, "--port", str(port), "--dir", d, "--appendfsync", "everysec",
               "--save", "", "--logfile", log]
    else:
        cmd = ["redis-server", "--port", str(port), "--dir", d, "--appendonly", "yes",
               "--appendfsync", "everysec", "--save", "", "--logfile", log]
    if cpus is not None:
        cmd = ["taskset", "-c", cpus] + cmd
    p = subprocess.Popen(cmd + list(extra), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
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
    return p, c, d


def stop(p):
    p.kill()
    p.wait()


def info(c, section="replication"):
    return c.info(section)


def load(port, n, size):
    """n keys of `size` bytes through redis-cli --pipe (as benches/memory.sh)."""
    path = os.path.join(tmp, f"load-{n}-{size}.resp")
    if not os.path.exists(path):
        # Random hex: compressible about 2:1, as real values often are (a
        # run of one letter would make every snapshot look tiny).
        with open(path, "w") as f:
            for i in range(n):
                k = "key:%010d" % i
                v = os.urandom(size // 2).hex()
                f.write("*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(k), k, len(v), v))
    with open(path, "rb") as f:
        subprocess.run(["redis-cli", "-p", str(port), "--pipe"], stdin=f,
                       stdout=subprocess.DEVNULL, check=True)


def wait_synced(master, replica, timeout=600):
    """Until the replica's link is up and its offset equals the master's."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        r = info(replica)
        if r.get("master_link_status") == "up":
            m = info(master)["master_repl_offset"]
            if r.get("master_repl_offset") == m:
                return
        time.sleep(0.01)
    raise SystemExit("replica did not catch up in time")


def dir_bytes(d, suffixes):
    return sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d)
               if any(f.endswith(s) for s in suffixes))


def fullsync():
    rows = []
    setups = [("sledis", ()), ("redis disk", ("--repl-diskless-sync", "no")),
              ("redis diskless", ("--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0"))]
    for i, (name, master_args) in enumerate(setups):
        kind = name.split()[0]
        mp, m, mdir = start(kind, BASE + 10 * i, *master_args)
        t = time.time()
        load(BASE + 10 * i, KEYS, 100)
        load_s = time.time() - t
        time.sleep(SETTLE)
        rp, r, rdir = start(kind, BASE + 10 * i + 1)
        t0 = time.time()
        r.execute_command("REPLICAOF", "127.0.0.1", BASE + 10 * i)
        wait_synced(m, r)
        secs = time.time() - t0
        assert r.dbsize() == KEYS, (name, r.dbsize())
        if kind == "sledis":
            breakdown = (log_seconds(mdir, r"DB saved on disk: .* in ([0-9.]+)s"),
                         log_seconds(rdir, r"loaded \d+ keys in ([0-9.]+)s"))
        snap = dir_bytes(mdir, (".sledis", ".rdb")) if name != "redis diskless" else None
        rows.append((name, KEYS, load_s, secs, snap))
        stop(rp)
        stop(mp)
    print(f"\nFull sync: {KEYS} keys of 100 B, REPLICAOF {SETTLE:g} s after the load, until link up and offsets equal")
    print(f"{'setup':16} {'keys':>8} {'load (s)':>9} {'sync (s)':>9} {'snapshot (MB)':>14}")
    for name, n, load_s, secs, snap in rows:
        s = f"{snap / 1048576:.1f}" if snap is not None else "(none)"
        print(f"{name:16} {n:8} {load_s:9.2f} {secs:9.2f} {s:>14}")
    s = rows[0][3]
    print(f"ratio redis/sledis time: disk {rows[1][3] / s:.2f}, diskless {rows[2][3] / s:.2f} (>= 1: sledis faster)")
    print(f"sledis: master snapshot {breakdown[0]} s, replica load {breakdown[1]} s (from their logs)")


def log_seconds(d, pattern):
    """The first number `pattern` captures in the node's log, or '?'."""
    with open(os.path.join(d, "log"), errors="replace") as f:
        m = re.search(pattern, f.read())
    return m.group(1) if m else "?"


def lag():
    rows = []
    for i, kind in enumerate(["sledis", "redis"]):
        port = BASE + 40 + 10 * i
        mp, m, _ = start(kind, port)
        rp, r, _ = start(kind, port + 1)
        r.execute_command("REPLICAOF", "127.0.0.1", port)
        wait_synced(m, r)
        samples = []
        done = threading.Event()
        bench = subprocess.Popen(
            ["redis-benchmark", "-p", str(port), "-t", "set", "-P", "16", "-d", "1024",
             "-n", str(LAG_N), "-r", "100000", "-c", "50", "-q"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        t_start = time.time()

        def sample():
            while not done.is_set():
                mo = info(m)["master_repl_offset"]
                ro = info(r).get("master_repl_offset", 0)
                samples.append(max(0, mo - ro))
                time.sleep(0.1)

        th = threading.Thread(target=sample)
        th.start()
        bench.wait()
        load_s = time.time() - t_start
        t_end = time.time()
        final = info(m)["master_repl_offset"]
        while info(r).get("master_repl_offset", 0) < final:
            if time.time() - t_end > 300:
                raise SystemExit(f"{kind}: replica never caught up")
            time.sleep(0.005)
        catch = time.time() - t_end
        done.set()
        th.join()
        rows.append((kind, load_s, LAG_N / load_s, statistics.median(samples), max(samples), catch, final))
        stop(rp)
        stop(mp)
    print(f"\nReplication lag: redis-benchmark -t set -P 16 -d 1024 -n {LAG_N} -r 100000 -c 50 on the master,")
    print("master offset minus replica offset every 100 ms")
    print(f"{'server':8} {'load (s)':>9} {'rps':>10} {'median lag (MB)':>16} {'max lag (MB)':>13} {'catch-up (s)':>13} {'stream (MB)':>12}")
    for kind, load_s, rps, med, mx, catch, final in rows:
        print(f"{kind:8} {load_s:9.2f} {rps:10.0f} {med / 1048576:16.2f} {mx / 1048576:13.2f} {catch:13.3f} {final / 1048576:12.1f}")


def settle(kind, clients, timeout=300):
    """Until every sledis node has moved its write buffer into sled
    (`sled_applied_offset` at `wal_written_offset`): that background work
    would otherwise fall into the next phase. Redis has none."""
    if kind != "sledis":
        return
    deadline = time.time() + timeout
    for c in clients:
        while True:
            p = info(c, "persistence")
            if p["sled_applied_offset"] >= p["wal_written_offset"]:
                break
            if time.time() > deadline:
                raise SystemExit("write buffer did not settle")
            time.sleep(0.05)


def throughput():
    """Two layouts: `pinned` gives the master and redis-benchmark CPU 0 and the
    replicas CPU 1, as if the replicas ran on other machines (what the ratio
    is about: the master's own cost of feeding them); `shared` lets all four
    processes share both cores (the replicas' work then competes with the
    master's, for Redis as much as for sledis).

    The same master takes TPUT_ROUNDS rounds of: every test with no replica
    (both detached by REPLICAOF NO ONE); in the pinned layout, every test
    again with no replica but a busy loop on CPU 1 (the two vCPUs of this
    machine slow each other down: the control for what any load on CPU 1
    costs the master); then both replicas attached and synced, every test
    again. Every node's background work is settled before each phase.
    Alternating keeps the machine's drift (±20% over minutes here) and the
    master's state out of the ratio; each figure is a median."""
    tests = [(1, 32), (16, 32), (16, 1024)]
    rounds = int(os.environ.get("TPUT_ROUNDS", "3"))

    def rps(port, pipe, size, cpus):
        cmd = ["redis-benchmark", "-p", str(port), "-t", "set", "-P", str(pipe), "-d", str(size),
               "-n", str(TPUT_N), "-r", "100000", "-c", "50", "--csv", "-q"]
        if cpus is not None:
            cmd = ["taskset", "-c", cpus] + cmd
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        line = [ln for ln in out.splitlines() if ln.startswith('"SET"')][0]
        return float(line.split('","')[1].strip('"'))

    def detached(m, timeout=60):
        deadline = time.time() + timeout
        while info(m)["connected_slaves"] != 0:
            if time.time() > deadline:
                raise SystemExit("replicas did not detach")
            time.sleep(0.05)

    rows = []
    for layout, mcpu, rcpu in [("pinned", "0", "1"), ("shared", None, None)]:
        phases = [0, "busy", 2] if rcpu is not None else [0, 2]
        for i, kind in enumerate(["sledis", "redis"]):
            port = BASE + 70 + 10 * i
            mp, m, _ = start(kind, port, cpus=mcpu)
            reps = [start(kind, port + 1 + j, cpus=rcpu) for j in range(2)]
            nodes = [m] + [r for _, r, _ in reps]
            res = {(pipe, size, n): [] for pipe, size in tests for n in phases}
            rps(port, 1, 32, mcpu)  # warm-up: every round overwrites the same keys
            for _ in range(rounds):
                for _, r, _ in reps:
                    r.execute_command("REPLICAOF", "NO", "ONE")
                detached(m)
                settle(kind, nodes)
                for pipe, size in tests:
                    res[(pipe, size, 0)].append(rps(port, pipe, size, mcpu))
                if "busy" in phases:
                    settle(kind, nodes)
                    hog = subprocess.Popen(["taskset", "-c", rcpu, sys.executable, "-c",
                                            "while True: pass"])
                    try:
                        for pipe, size in tests:
                            res[(pipe, size, "busy")].append(rps(port, pipe, size, mcpu))
                    finally:
                        hog.kill()
                        hog.wait()
                for _, r, _ in reps:
                    r.execute_command("REPLICAOF", "127.0.0.1", port)
                for _, r, _ in reps:
                    wait_synced(m, r)
                assert info(m)["connected_slaves"] == 2
                settle(kind, nodes)
                for pipe, size in tests:
                    res[(pipe, size, 2)].append(rps(port, pipe, size, mcpu))
                for _, r, _ in reps:
                    wait_synced(m, r)
            for p, _, _ in reps:
                stop(p)
            stop(mp)
            for pipe, size in tests:
                a, b = res[(pipe, size, 0)], res[(pipe, size, 2)]
                busy = res.get((pipe, size, "busy"))
                per = " ".join(f"{y / x:.2f}" for x, y in zip(a, b))
                ma, mb = statistics.median(a), statistics.median(b)
                mbusy = statistics.median(busy) if busy else None
                per_busy = " ".join(f"{y / x:.2f}" for x, y in zip(busy, b)) if busy else ""
                rows.append((layout, kind, pipe, size, ma, mbusy, mb, per, per_busy))
    print(f"\nMaster write throughput, redis-benchmark -t set -n {TPUT_N} -r 100000 -c 50, "
          f"no replica vs two, medians of {rounds} alternating rounds; 'busy': no replica, "
          f"a busy loop on CPU 1 (pinned layout only)")
    print(f"{'layout':7} {'server':7} {'-P':>3} {'size':>5} {'0 replicas':>11} {'busy':>8} "
          f"{'2 replicas':>11} {'2/0':>5} {'2/busy':>6}  2/0 per round; 2/busy per round")
    for layout, kind, pipe, size, a, busy, b, per, per_busy in rows:
        bcol = f"{busy:8.0f}" if busy else f"{'-':>8}"
        rcol = f"{b / busy:6.2f}" if busy else f"{'-':>6}"
        tail = f"{per}; {per_busy}" if per_busy else per
        print(f"{layout:7} {kind:7} {pipe:3} {size:5} {a:11.0f} {bcol} {b:11.0f} "
              f"{b / a:5.2f} {rcol}  {tail}")


def main():
    subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "sledis-server"],
                   cwd=ROOT, check=True)
    parts = sys.argv[1:] or ["fullsync", "lag", "throughput"]
    print(f"{os.cpu_count()} cores; sledis: WAL appendfsync everysec; redis {subprocess.run(['redis-server', '--version'], capture_output=True, text=True).stdout.split()[2]}: appendonly yes, appendfsync everysec")
    try:
        for part in parts:
            {"fullsync": fullsync, "lag": lag, "throughput": throughput}[part]()
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
