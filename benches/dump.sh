#!/usr/bin/env bash
# sledis-dump speed and memory on a big snapshot: loads KEYS keys into a
# fresh sledis-server (strings, plus a hash, set, list and zset of 10
# elements per 100 keys), SAVEs, then times `sledis-dump snapshot` (text
# and --json) and `verify` to /dev/null, with peak RSS (GNU time).
#
#   bash benches/dump.sh            # 1,000,000 keys
#   KEYS=200000 bash benches/dump.sh
set -euo pipefail
cd "$(dirname "$0")/.."
KEYS=${KEYS:-1000000}
PORT=${PORT:-7391}
cargo build --release --quiet --bin sledis-server --bin sledis-dump
tmp=$(mktemp -d)
./target/release/sledis-server --port "$PORT" --dir "$tmp" --save "" --logfile "$tmp/log" &
pid=$!
trap 'kill -9 $pid 2>/dev/null || true; rm -rf "$tmp"' EXIT
for _ in $(seq 100); do redis-cli -p "$PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
python3 - "$PORT" "$KEYS" <<'PY'
import sys, redis
port, n = int(sys.argv[1]), int(sys.argv[2])
c = redis.Redis(port=port)
p = c.pipeline(transaction=False)
for start in range(0, n, 1000):
    p.mset({f"key:{i}": f"value-{i}" for i in range(start, min(n, start + 1000))})
    for i in range(start, min(n, start + 1000), 100):
        kind = (i // 100) % 4
        if kind == 0:
            p.delete(f"key:{i}"); p.hset(f"key:{i}", mapping={f"f{j}": j for j in range(10)})
        elif kind == 1:
            p.delete(f"key:{i}"); p.sadd(f"key:{i}", *range(10))
        elif kind == 2:
            p.delete(f"key:{i}"); p.rpush(f"key:{i}", *range(10))
        else:
            p.delete(f"key:{i}"); p.zadd(f"key:{i}", {f"m{j}": j for j in range(10)})
    if len(p) >= 2000:
        p.execute()
p.execute()
PY
redis-cli -p "$PORT" save >/dev/null
snap="$tmp/dump.sledis"
echo "snapshot: $(stat -c %s "$snap") bytes, $(redis-cli -p "$PORT" dbsize) keys"
run() { # label, args...
  local label=$1; shift
  local t
  t=$( { /usr/bin/time -f "%e %M" ./target/release/sledis-dump "$@" > /dev/null; } 2>&1 | tail -1)
  awk -v l="$label" -v k="$KEYS" -v t="$t" 'BEGIN { split(t, a, " "); printf "%-22s %8.2f s %10.0f keys/s  peak RSS %6.1f MB\n", l, a[1], (a[1] > 0 ? k / a[1] : 0), a[2] / 1024 }'
}
run "snapshot (text)" snapshot "$snap"
run "snapshot --json" snapshot "$snap" --json
run "snapshot --stats" snapshot "$snap" --stats
run "verify" verify "$snap"
