#!/usr/bin/env bash
# Latency of a score range read in the middle of a big sorted set, sledis
# beside a real redis-server (started by servers.sh): both load MEMBERS
# members (`m<i>` scored i) with `redis-cli --pipe`, then redis-benchmark
# sends `ZRANGEBYSCORE big <mid> <mid+9>` (10 members) from one client (the
# latency of one request) and from 50 (throughput), once sledis's write
# buffer has reached sled.
#
#   bash benches/zset_range.sh
#   MEMBERS=100000 N=20000 bash benches/zset_range.sh
set -euo pipefail
cd "$(dirname "$0")/.."
MEMBERS=${MEMBERS:-1000000}
N=${N:-50000}
SLEDIS_PORT=${SLEDIS_PORT:-7381}
REDIS_PORT=${REDIS_PORT:-7382}

source benches/servers.sh

# ZADD commands of 1000 members each, in RESP.
awk -v n="$MEMBERS" 'BEGIN {
  for (i = 0; i < n; i += 1000) {
    k = (n - i < 1000) ? n - i : 1000
    printf "*%d\r\n$4\r\nZADD\r\n$3\r\nbig\r\n", 2 + 2 * k
    for (j = i; j < i + k; j++) {
      s = sprintf("%d", j); m = "m" s
      printf "$%d\r\n%s\r\n$%d\r\n%s\r\n", length(s), s, length(m), m
    }
  }
}' > "$tmp/load.resp"

for p in "$SLEDIS_PORT" "$REDIS_PORT"; do
  start=$(date +%s.%N)
  redis-cli -p "$p" --pipe < "$tmp/load.resp" > /dev/null
  end=$(date +%s.%N)
  echo "port $p: $(redis-cli -p "$p" zcard big) members loaded in $(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }') s"
done

# Measure once sledis has moved the load from its write buffer into sled
# (the background work would otherwise share the 2 cores with the test).
field() { redis-cli -p "$SLEDIS_PORT" info persistence | tr -d '\r' | awk -F: -v f="$1" '$1 == f { print $2 }'; }
for _ in $(seq 120); do
  [ "$(field sled_applied_offset)" = "$(field wal_end_offset)" ] && break
  sleep 0.5
done

mid=$((MEMBERS / 2))
hi=$((mid + 9))
# redis-benchmark --csv columns: test, rps, avg, min, p50, p95, p99, max.
run() { # port clients
  redis-benchmark -p "$1" -c "$2" -n "$N" --csv ZRANGEBYSCORE big "$mid" "$hi" 2>/dev/null \
    | awk -F',' 'NR>1 { gsub(/"/, ""); print $2, $3, $5, $7; exit }'
}

echo "ZRANGEBYSCORE big $mid $hi (10 of $MEMBERS members), $N requests"
printf "%-7s %-8s %12s %9s %9s %9s\n" server clients rps avg_ms p50_ms p99_ms
for c in 1 50; do
  for s in sledis:$SLEDIS_PORT redis:$REDIS_PORT; do
    read -r rps avg p50 p99 < <(run "${s#*:}" "$c")
    printf "%-7s %-8s %12s %9s %9s %9s\n" "${s%%:*}" "$c" "$rps" "$avg" "$p50" "$p99"
  done
done
