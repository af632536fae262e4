#!/usr/bin/env bash
# A 512 MB bitmap beside a real redis-server, in one run: SETBIT and GETBIT
# at random offsets over all of it (one python3-redis client, pipelines of
# 100: redis-benchmark's __rand_int__ has leading zeros, which a bit offset
# may not), then BITCOUNT and BITPOS of the whole string and BITCOUNT of a
# 1 MB range (medians), and each server's peak RSS. The sledis node runs
# with maxmemory 64mb.
#
#   bash benches/big_bitmap.sh
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-100000}
SLEDIS_PORT=${SLEDIS_PORT:-7379}
REDIS_PORT=${REDIS_PORT:-7380}
SERVERS_MANUAL=1
source benches/servers.sh
start_sledis
redis-cli -p "$SLEDIS_PORT" config set maxmemory 64mb >/dev/null
start_redis

for port in "$SLEDIS_PORT" "$REDIS_PORT"; do
  redis-cli -p "$port" setbit bm 4294967295 1 >/dev/null
done
python3 - "$SLEDIS_PORT" "$REDIS_PORT" "$N" <<'PY'
import random, statistics, sys, time
import redis
N = int(sys.argv[3])
rate = {}
for cmd in ("setbit", "getbit"):
    for name, port in (("sledis", int(sys.argv[1])), ("redis", int(sys.argv[2]))):
        c = redis.Redis(port=port)
        rng = random.Random(7)
        t = time.perf_counter()
        for _ in range(N // 100):
            p = c.pipeline(transaction=False)
            for _ in range(100):
                o = rng.randrange(1 << 32)
                if cmd == "setbit":
                    p.setbit("bm", o, 1)
                else:
                    p.getbit("bm", o)
            p.execute()
        rate[name] = N / (time.perf_counter() - t)
    print(f"{cmd.upper()} at random offsets: sledis {rate['sledis']:.0f}/s, "
          f"redis {rate['redis']:.0f}/s, ratio {rate['sledis'] / rate['redis']:.2f}")
for name, port in (("sledis", int(sys.argv[1])), ("redis", int(sys.argv[2]))):
    c = redis.Redis(port=port)
    for what, args in (("BITCOUNT bm", ["bm"]),
                       ("BITCOUNT bm 1 MB range", ["bm", 200 << 20, (201 << 20) - 1])):
        times = []
        for _ in range(7):
            t = time.perf_counter()
            n = c.bitcount(*args)
            times.append(time.perf_counter() - t)
        print(f"{name} {what}: {n} bits, median {statistics.median(times) * 1000:.1f} ms")
    times = []
    for _ in range(7):
        t = time.perf_counter()
        p = c.bitpos("bm", 1)
        times.append(time.perf_counter() - t)
    print(f"{name} BITPOS bm 1: {p}, median {statistics.median(times) * 1000:.1f} ms")
PY
for pid in "$spid" "$rpid"; do
  grep -E 'VmHWM|VmRSS' "/proc/$pid/status" | tr -s ' \t' ' ' | tr '\n' ' '
  echo "(pid $pid)"
done
