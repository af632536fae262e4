#!/usr/bin/env bash
# Throughput of sledis-server beside a real redis-server, in one run, with
# redis-benchmark (Debian's redis-tools). Both use the same fsync policy
# (Redis: appendonly yes). Prints requests/s and the ratio sledis/redis.
#
#   bash benches/redis_benchmark.sh                # SET/GET (32 B and 1 KiB) and ZADD/ZPOPMIN, 50 clients, -P 1 and 16
#   N=200000 FSYNC=always TESTS=set bash benches/redis_benchmark.sh
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-200000}
CLIENTS=${CLIENTS:-50}
FSYNC=${FSYNC:-everysec}
TESTS=${TESTS:-set,get,zadd,zpopmin}
PIPES=${PIPES:-"1 16"}
SIZES=${SIZES:-"32 1024"}
SLEDIS_PORT=${SLEDIS_PORT:-7379}
REDIS_PORT=${REDIS_PORT:-7380}

source benches/servers.sh

rps() { # port pipeline size test -> requests/s
  # The last row: lrange_* first prints the LPUSH that fills the list.
  redis-benchmark -p "$1" -c "$CLIENTS" -n "$N" -P "$2" -d "$3" -r 100000 -t "$4" --csv -q 2>/dev/null \
    | awk -F'","' 'NR>1 {gsub(/"/,"",$2); r = $2} END {print r}'
}

echo "redis-benchmark: $N requests, $CLIENTS clients, -r 100000, appendfsync $FSYNC ($(nproc) cores)"
printf "%-6s %-4s %-6s %12s %12s %7s\n" test -P size sledis redis ratio
for t in ${TESTS//,/ }; do
  for p in $PIPES; do
    for d in $SIZES; do
      # Tests on collections ignore -d: one size is enough.
      case "$t" in set|get|mset|lpush|rpush) ;; *) [ "$d" = "${SIZES%% *}" ] || continue ;; esac
      s=$(rps $SLEDIS_PORT "$p" "$d" "$t")
      r=$(rps $REDIS_PORT "$p" "$d" "$t")
      ratio=$(awk -v s="$s" -v r="$r" 'BEGIN { if (r > 0) printf "%.2f", s / r; else print "n/a" }')
      printf "%-6s %-4s %-6s %12s %12s %7s\n" "$t" "$p" "$d" "$s" "$r" "$ratio"
    done
  done
done
