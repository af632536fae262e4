#!/usr/bin/env bash
# Throughput of sledis-server beside a real redis-server, with
# redis-benchmark (Debian's redis-tools). Both use the same fsync policy
# (Redis: appendonly yes). Prints requests/s and the ratio sledis/redis.
#
# One server runs at a time (a fresh one each round, taking every test in
# turn), so one server's background work never slows the other's test; the
# rounds alternate sledis, redis, sledis, ... and the table gives each
# test's median over ROUNDS rounds and the ratio of the medians, then the
# ratio of each round (this machine's speed drifts by ±20% over minutes).
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
ROUNDS=${ROUNDS:-3}
SLEDIS_PORT=${SLEDIS_PORT:-7379}
REDIS_PORT=${REDIS_PORT:-7380}

SERVERS_MANUAL=1 source benches/servers.sh

rps() { # port pipeline size test -> requests/s
  # The last row: lrange_* first prints the LPUSH that fills the list.
  redis-benchmark -p "$1" -c "$CLIENTS" -n "$N" -P "$2" -d "$3" -r 100000 -t "$4" --csv -q 2>/dev/null \
    | awk -F'","' 'NR>1 {gsub(/"/,"",$2); r = $2} END {print r}'
}

# The (test, pipeline, size) cases, in the order each server takes them.
cases=()
for t in ${TESTS//,/ }; do
  for p in $PIPES; do
    for d in $SIZES; do
      # Tests on collections ignore -d: one size is enough.
      case "$t" in set|get|mset|lpush|rpush) ;; *) [ "$d" = "${SIZES%% *}" ] || continue ;; esac
      cases+=("$t $p $d")
    done
  done
done

results="$tmp/results" # lines: round server case-index rps
: >"$results"
for r in $(seq "$ROUNDS"); do
  for server in sledis redis; do
    if [ "$server" = sledis ]; then start_sledis; port=$SLEDIS_PORT; else start_redis; port=$REDIS_PORT; fi
    for i in "${!cases[@]}"; do
      read -r t p d <<<"${cases[$i]}"
      echo "$r $server $i $(rps "$port" "$p" "$d" "$t")" >>"$results"
    done
    stop_servers
  done
done

echo "redis-benchmark: $N requests, $CLIENTS clients, -r 100000, appendfsync $FSYNC ($(nproc) cores), $ROUNDS rounds, one server at a time"
printf "%-10s %-4s %-6s %12s %12s %7s  %s\n" test -P size sledis redis ratio "ratio per round"
for i in "${!cases[@]}"; do
  read -r t p d <<<"${cases[$i]}"
  awk -v i="$i" -v t="$t" -v p="$p" -v d="$d" '
    function median(a, n,   j, k, x) {
      for (j = 2; j <= n; j++) { x = a[j]; for (k = j - 1; k >= 1 && a[k] > x; k--) a[k + 1] = a[k]; a[k + 1] = x }
      return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    $3 == i && $2 == "sledis" { s[++ns] = $4; sr[$1] = $4 }
    $3 == i && $2 == "redis" { q[++nq] = $4; rr[$1] = $4 }
    END {
      ms = median(s, ns); mr = median(q, nq)
      per = ""
      for (r = 1; r <= nq; r++) per = per sprintf(" %.2f", (rr[r] > 0) ? sr[r] / rr[r] : 0)
      printf("%-10s %-4s %-6s %12.0f %12.0f %7.2f %s\n", t, p, d, ms, mr, (mr > 0) ? ms / mr : 0, per)
    }' "$results"
done
