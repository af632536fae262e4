#!/usr/bin/env python3
"""Failover torture: do acknowledged writes survive repeated failovers?

    python3 benches/failover_torture.py                 # every setup, 75 s each
    DURATION=30 SETUPS="sledis-sync" python3 benches/failover_torture.py
    KEEP=1 python3 benches/failover_torture.py          # keep dirs and logs

Three sledis-server nodes (one master, two replicas, each with its own
config file, `appendfsync everysec`) and three sentinels (quorum 2,
`down-after-milliseconds 1000`, `failover-timeout 5000`). A writer finds the
master through the sentinels (redis-py's `Sentinel.master_for`) and appends
`vN` to the list `log`, N = 1, 2, 3, ...:

  async  `RPUSH log vN` then `WAIT 1 200`: the write counts as acknowledged
         when WAIT returned >= 1 (and, separately, as "OK" when RPUSH
         answered, which promises nothing beyond the master).
  sync   every node has `sync-replicas 1`: `RPUSH log vN` alone, counted
         acknowledged when it answered (the master answers only once a
         replica has the write).

Meanwhile faults hit whatever the sentinels call the master, one after the
other (FAULTS, cycled until DURATION is over, at least 5):

  kill    kill -9 the master; after the failover, restart it with its own
          config (it rejoins as the new master's replica).
  stop    SIGSTOP the master for longer than down-after (until the
          sentinels switched, at most 15 s), then SIGCONT: it wakes up
          believing it is the master, with the writer's connection open.
  double  kill -9 the master; as soon as the sentinels switched, restart it
          and at once kill -9 the new master too (a second, unplanned
          failover right after the first), then restart that one.

At the end every node is restarted/resumed, the group is left to settle,
and the final master's `log` is read: a write acknowledged but missing is
lost. Also counted: the WAL records old masters dropped when they rejoined
(their `dropping N WAL records` log lines; the records are kept in
`dropped-*/` in their data dirs, see README). Setups (SETUPS):

  sledis-async, sledis-sync   sledis nodes + sledis-sentinel
  redis-async,  redis-sync    sledis nodes + Debian's redis-sentinel

Every process is started here and stopped by its PID. Binaries come from
$CARGO_TARGET_DIR/release (or target/release): build with
`cargo build --release --bins`.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import redis
from redis.sentinel import Sentinel

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
SLEDIS = os.environ.get("SLEDIS", os.path.join(TARGET, "release", "sledis-server"))
SLEDIS_SENTINEL = os.environ.get(
    "SLEDIS_SENTINEL", os.path.join(TARGET, "release", "sledis-sentinel"))
REDIS_SENTINEL = os.environ.get("REDIS_SENTINEL", "redis-sentinel")
DURATION = float(os.environ.get("DURATION", "75"))
SETUPS = os.environ.get("SETUPS", "sledis-async sledis-sync redis-async redis-sync").split()
FAULTS = os.environ.get("FAULTS", "kill stop double kill stop").split()
BASE = int(os.environ.get("BASE_PORT", "7640"))
KEEP = os.environ.get("KEEP")
DOWN_AFTER = 1000


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


class Proc:
    """A process we started, stopped only by its PID."""

    def __init__(self, argv, name):
        self.argv = argv
        self.name = name
        self.p = None
        self.stopped = False

    def start(self):
        self.p = subprocess.Popen(self.argv, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        self.stopped = False

    def alive(self):
        return self.p is not None and self.p.poll() is None

    def kill9(self):
        if self.alive():
            if self.stopped:
                os.kill(self.p.pid, 18)  # SIGCONT, so it dies at once
            self.p.kill()
            self.p.wait()
        self.stopped = False

    def sigstop(self):
        if self.alive():
            os.kill(self.p.pid, 19)
            self.stopped = True

    def sigcont(self):
        if self.alive() and self.stopped:
            os.kill(self.p.pid, 18)
        self.stopped = False


def client(port, timeout=1.0):
    return redis.Redis(port=port, socket_timeout=timeout, socket_connect_timeout=timeout)


def try_cmd(port, *args, timeout=1.0):
    try:
        return client(port, timeout).execute_command(*args)
    except Exception as e:  # noqa: BLE001 - any failure means "not now"
        return e


def info(port, timeout=1.0):
    """INFO replication as redis-py parses it ({} when unreachable)."""
    try:
        return client(port, timeout).info("replication")
    except Exception:  # noqa: BLE001
        return {}


def wait_for(pred, timeout, step=0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(step)
    return pred()


class Group:
    def __init__(self, setup, tmp):
        self.setup = setup
        self.sync = setup.endswith("-sync")
        self.tmp = tmp
        self.ports = [BASE, BASE + 1, BASE + 2]
        self.sports = [BASE + 20000, BASE + 20001, BASE + 20002]
        self.nodes = {}
        self.sentinels = []
        for i, port in enumerate(self.ports):
            d = os.path.join(tmp, f"node-{port}")
            os.makedirs(d)
            conf = os.path.join(d, "sledis.conf")
            lines = [f"port {port}", "bind 127.0.0.1", f"dir {d}/data",
                     f"logfile {d}/sledis.log", "appendfsync everysec"]
            if self.sync:
                lines.append("sync-replicas 1")
            if i > 0:
                lines.append(f"replicaof 127.0.0.1 {self.ports[0]}")
            with open(conf, "w") as f:
                f.write("\n".join(lines) + "\n")
            self.nodes[port] = Proc([SLEDIS, conf], f"node {port}")
        bin_ = SLEDIS_SENTINEL if setup.startswith("sledis") else REDIS_SENTINEL
        for sp in self.sports:
            d = os.path.join(tmp, f"sentinel-{sp}")
            os.makedirs(d)
            conf = os.path.join(d, "sentinel.conf")
            with open(conf, "w") as f:
                f.write("\n".join([
                    f"port {sp}", "bind 127.0.0.1", f"dir {d}",
                    f"logfile {d}/sentinel.log",
                    f"sentinel monitor mymaster 127.0.0.1 {self.ports[0]} 2",
                    f"sentinel down-after-milliseconds mymaster {DOWN_AFTER}",
                    "sentinel failover-timeout mymaster 5000",
                ]) + "\n")
            self.sentinels.append(Proc([bin_, conf], f"sentinel {sp}"))

    def start(self):
        for port, n in self.nodes.items():
            n.start()
            if not wait_for(lambda: try_cmd(port, "PING") is True, 20):
                raise SystemExit(f"node {port} did not start")
        ok = wait_for(lambda: all(
            info(p).get("master_link_status") == "up" for p in self.ports[1:]), 30)
        if not ok:
            raise SystemExit("replicas did not link up")
        for s in self.sentinels:
            s.start()
        # Every sentinel knows both replicas and the two other sentinels.
        def known():
            for sp in self.sports:
                r = try_cmd(sp, "SENTINEL", "MASTER", "mymaster")
                if not isinstance(r, list):
                    return False
                d = dict(zip(r[::2], r[1::2]))
                if d.get(b"num-slaves") != b"2" or d.get(b"num-other-sentinels") != b"2":
                    return False
            return True
        if not wait_for(known, 60, 0.2):
            raise SystemExit("sentinels did not discover the group")

    def master(self):
        """The master most sentinels name, or None."""
        votes = {}
        for sp in self.sports:
            r = try_cmd(sp, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster", timeout=0.5)
            if isinstance(r, list) and len(r) == 2:
                p = int(r[1])
                votes[p] = votes.get(p, 0) + 1
        best = max(votes.items(), key=lambda kv: kv[1], default=(None, 0))
        return best[0] if best[1] >= 2 else None

    def wait_switch(self, old, timeout):
        got = []

        def switched():
            m = self.master()
            if m is not None and m != old:
                got.append(m)
                return True
            return False
        wait_for(switched, timeout, 0.05)
        return got[-1] if got else None

    def stop_all(self):
        for p in self.sentinels + list(self.nodes.values()):
            p.kill9()


class Writer(threading.Thread):
    def __init__(self, group):
        super().__init__(daemon=True)
        self.g = group
        self.halt = threading.Event()
        self.acked = []     # WAIT >= 1 (async) / reply OK (sync)
        self.ok = []        # RPUSH answered (async only: promises nothing)
        self.attempts = 0
        self.errors = {}

    def run(self):
        sen = Sentinel([("127.0.0.1", sp) for sp in self.g.sports],
                       socket_timeout=0.5, socket_connect_timeout=0.5)
        m = sen.master_for("mymaster", socket_timeout=2.0, socket_connect_timeout=0.5)
        n = 0
        while not self.halt.is_set():
            n += 1
            self.attempts += 1
            v = f"v{n}"
            try:
                m.rpush("log", v)
                if self.g.sync:
                    self.acked.append(n)
                else:
                    self.ok.append(n)
                    if m.execute_command("WAIT", 1, 200) >= 1:
                        self.acked.append(n)
            except Exception as e:  # noqa: BLE001 - count and go on
                k = type(e).__name__ + ": " + str(e)[:40]
                self.errors[k] = self.errors.get(k, 0) + 1
                time.sleep(0.05)


def run_setup(setup):
    tmp = tempfile.mkdtemp(prefix=f"sledis-torture-{setup}-")
    g = Group(setup, tmp)
    faults_done = []
    try:
        g.start()
        w = Writer(g)
        t0 = time.time()
        w.start()
        time.sleep(2)
        i = 0
        while time.time() - t0 < DURATION or len(faults_done) < 5:
            kind = FAULTS[i % len(FAULTS)]
            i += 1
            m = g.master()
            if m is None:
                time.sleep(0.5)
                continue
            node = g.nodes[m]
            t = time.time()
            if kind == "kill":
                node.kill9()
                new = g.wait_switch(m, 30)
                node.start()
                desc = f"kill -9 {m} -> {new} in {time.time() - t:.1f}s, {m} restarted"
            elif kind == "stop":
                node.sigstop()
                new = g.wait_switch(m, 15)
                time.sleep(0.5)
                node.sigcont()
                desc = f"SIGSTOP {m} {time.time() - t:.1f}s -> {new}, SIGCONT"
            else:  # double
                node.kill9()
                new = g.wait_switch(m, 30)
                node.start()
                if new is not None:
                    g.nodes[new].kill9()
                    new2 = g.wait_switch(new, 30)
                    g.nodes[new].start()
                    desc = (f"kill -9 {m} -> {new}, {m} restarted, at once kill -9 {new} "
                            f"-> {new2}, {new} restarted ({time.time() - t:.1f}s)")
                else:
                    desc = f"kill -9 {m}: no switch within 30 s; {m} restarted"
            faults_done.append(desc)
            log(f"{setup}: fault {len(faults_done)}: {desc}; "
                f"acked so far {len(w.acked)}")
            # Let the group settle before the next fault: a restarted node
            # needs to resync before it can be a good candidate.
            time.sleep(4)
        elapsed = time.time() - t0
        # Everything back up, one master, replicas in sync.
        for n in g.nodes.values():
            n.sigcont()
            if not n.alive():
                n.start()
        wait_for(lambda: g.master() is not None, 60, 0.2)
        time.sleep(3)
        w.halt.set()
        w.join(10)
        final = None

        def settled():
            nonlocal final
            final = g.master()
            if final is None:
                return False
            i = info(final)
            online = [k for k, v in i.items()
                      if k.startswith("slave") and isinstance(v, dict)
                      and v.get("state") == "online"]
            return i.get("role") == "master" and len(online) == 2
        ok = wait_for(settled, 60, 0.5)
        items = try_cmd(final, "LRANGE", "log", 0, -1, timeout=10) if final else []
        if not isinstance(items, list):
            items = []
        present = set()
        for it in items:
            try:
                present.add(int(it[1:]))
            except ValueError:
                pass
        lost = [n for n in w.acked if n not in present]
        # Records old masters dropped on rejoining (kept in dropped-*/).
        dropped = 0
        for port in g.ports:
            try:
                with open(os.path.join(g.tmp, f"node-{port}", "sledis.log")) as f:
                    for line in f:
                        m = re.search(r"dropping (\d+) WAL records", line)
                        if m:
                            dropped += int(m.group(1))
            except OSError:
                pass
        lost_ok = [n for n in w.ok if n not in present]
        res = {
            "setup": setup,
            "faults": len(faults_done),
            "seconds": elapsed,
            "attempts": w.attempts,
            "acked": len(w.acked),
            "lost": len(lost),
            "lost_first": lost[:10],
            "ok": len(w.ok),
            "lost_ok": len(lost_ok),
            "dropped": dropped,
            "final_master": final,
            "settled": ok,
            "list_len": len(items),
            "errors": sorted(w.errors.items(), key=lambda kv: -kv[1])[:4],
            "fault_log": faults_done,
        }
        return res
    finally:
        g.stop_all()
        if KEEP:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def main():
    for b in (SLEDIS, SLEDIS_SENTINEL):
        if not os.access(b, os.X_OK):
            sys.exit(f"missing {b}: run cargo build --release --bins")
    results = []
    for setup in SETUPS:
        log(f"setup {setup}: {DURATION:.0f} s, faults {' '.join(FAULTS)}")
        r = run_setup(setup)
        results.append(r)
        log(f"{setup}: {r}")
    print()
    print("| setup | faults | acknowledged | lost acknowledged | acked writes/s |"
          " RPUSH OK (async) | lost OK-only | records dropped by rejoining nodes |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        ok = f"{r['ok']}" if r["setup"].endswith("-async") else "-"
        lo = f"{r['lost_ok']}" if r["setup"].endswith("-async") else "-"
        print(f"| {r['setup']} | {r['faults']} | {r['acked']} | {r['lost']} | "
              f"{r['acked'] / r['seconds']:.0f} | {ok} | {lo} | {r['dropped']} |")
    bad = [r for r in results if r["lost"] > 0]
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
