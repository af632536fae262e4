#!/usr/bin/env bash
# Big collections beside a real redis-server, in one run: reads in the
# middle of 1,000,000-element keys (LINDEX, LRANGE, ZRANGEBYSCORE, HGET,
# SISMEMBER) and DEL of each key. Latencies are medians over many calls
# from one client (python3-redis), so they include a loopback round trip.
#
#   bash benches/big_keys.sh            # 1,000,000 elements per key
#   ELEMENTS=100000 bash benches/big_keys.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ELEMENTS=${ELEMENTS:-1000000}
SLEDIS_PORT=${SLEDIS_PORT:-7379}
REDIS_PORT=${REDIS_PORT:-7380}

source benches/servers.sh

python3 - "$SLEDIS_PORT" "$REDIS_PORT" "$ELEMENTS" <<'EOF'
import statistics, sys, time
import redis

sport, rport, n = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
mid = n // 2

def fill(c, has_zset):
    p = c.pipeline(transaction=False)
    for start in range(0, n, 1000):
        r = range(start, min(n, start + 1000))
        p.rpush("list", *[f"item{i}" for i in r])
        p.hset("hash", mapping={f"f{i}": f"v{i}" for i in r})
        p.sadd("set", *[f"m{i}" for i in r])
        if has_zset:
            p.zadd("zset", {f"m{i}": i for i in r})
        if len(p) >= 200:
            p.execute()
    p.execute()

def median_us(c, *cmd, runs=300):
    t = []
    for _ in range(runs):
        a = time.perf_counter()
        c.execute_command(*cmd)
        t.append((time.perf_counter() - a) * 1e6)
    return statistics.median(t)

def has_zset(c):
    try:
        c.execute_command("ZCARD", "no-such-key")
        return True
    except redis.ResponseError:
        return False

rows = {}
for name, port in (("sledis", sport), ("redis", rport)):
    c = redis.Redis(port=port)
    z = has_zset(c)
    a = time.perf_counter()
    fill(c, z)
    rows.setdefault(f"fill 4 keys x {n} (s)", {})[name] = time.perf_counter() - a
    if name == "sledis":
        # The fill sits in the write buffer until the applier has put it
        # into sled: wait for that, so the reads and DELs below measure a
        # settled node (a DEL meanwhile can wait for buffer room).
        a = time.perf_counter()
        while time.perf_counter() - a < 600:
            # No frozen write-buffer table left (each is 128 MiB).
            if int(c.info("memory")["write_buffer_bytes"]) < 128 << 20:
                break
            time.sleep(0.2)
        rows.setdefault("fill reaches sled (s)", {})[name] = time.perf_counter() - a
    time.sleep(1)
    ops = [
        ("LINDEX middle (us)", ("LINDEX", "list", mid)),
        ("LRANGE middle 10 (us)", ("LRANGE", "list", mid, mid + 9)),
        ("LRANGE 0 99 (us)", ("LRANGE", "list", 0, 99)),
        ("HGET (us)", ("HGET", "hash", f"f{mid}")),
        ("SISMEMBER (us)", ("SISMEMBER", "set", f"m{mid}")),
    ]
    if z:
        ops.append(("ZRANGEBYSCORE middle 10 (us)", ("ZRANGEBYSCORE", "zset", mid, mid + 9)))
        ops.append(("ZSCORE (us)", ("ZSCORE", "zset", f"m{mid}")))
    for label, cmd in ops:
        rows.setdefault(label, {})[name] = median_us(c, *cmd)
    keys = ["list", "hash", "set"] + (["zset"] if z else [])
    for k in keys:
        if name == "sledis":
            # Each DEL on a quiet node: the previous key's reclamation (and
            # the write-buffer flush it starts) done. A DEL that lands while
            # the applier moves a big table into sled can wait on sled's
            # lock: that is measured separately below.
            a = time.perf_counter()
            while time.perf_counter() - a < 300:
                m = c.info("memory")
                if int(m["lazyfree_pending_objects"]) == 0 and int(m["write_buffer_bytes"]) < 16 << 20:
                    break
                time.sleep(0.2)
        a = time.perf_counter()
        c.delete(k)
        rows.setdefault(f"DEL {k} (ms)", {})[name] = (time.perf_counter() - a) * 1e3
    if name == "sledis":
        # A DEL right after a big write burst, while it is being applied.
        p = c.pipeline(transaction=False)
        for start in range(0, n, 1000):
            p.hset("burst", mapping={f"f{i}": "x" for i in range(start, min(n, start + 1000))})
            if len(p) >= 200:
                p.execute()
        p.execute()
        p.hset("burst2", "f", "v")
        p.execute()
        a = time.perf_counter()
        c.delete("burst2")
        rows.setdefault("DEL during a burst's apply (ms)", {})[name] = (time.perf_counter() - a) * 1e3
    if name == "sledis":
        info = c.info("memory")
        rows.setdefault("lazyfree_pending_objects after DEL", {})[name] = info.get("lazyfree_pending_objects", 0)

print(f"{n} elements per key ({len(rows)} measurements)")
print(f"{'measure':40} {'sledis':>12} {'redis':>12}")
for label, v in rows.items():
    fmt = lambda x: "-" if x is None else (f"{x:.3f}" if isinstance(x, float) else str(x))
    print(f"{label:40} {fmt(v.get('sledis')):>12} {fmt(v.get('redis')):>12}")
EOF
