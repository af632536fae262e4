#!/usr/bin/env bash
# PUBLISH throughput of sledis beside a real redis-server, each alone and
# then with one replica attached (when a master logs its messages for
# replicas, `Effect::Message`). One server pair at a time, ROUNDS rounds;
# prints requests/s and the ratio sledis/redis of the medians.
#
#   bash benches/publish.sh
#   N=500000 ROUNDS=5 bash benches/publish.sh
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-300000}
CLIENTS=${CLIENTS:-50}
ROUNDS=${ROUNDS:-3}
SLEDIS_PORT=${SLEDIS_PORT:-7391}
REDIS_PORT=${REDIS_PORT:-7392}
REPLICA_PORT=${REPLICA_PORT:-7393}

SERVERS_MANUAL=1 source benches/servers.sh

rppid=
stop_replica() {
  [ -n "$rppid" ] && kill -9 "$rppid" 2>/dev/null && wait "$rppid" 2>/dev/null || true
  rppid=
  rm -rf "$tmp/replica"
}
trap 'stop_replica; cleanup' EXIT
start_replica() { # server master-port
  mkdir -p "$tmp/replica"
  if [ "$1" = sledis ]; then
    ./target/release/sledis-server --port "$REPLICA_PORT" --dir "$tmp/replica" --save "" \
      --replicaof "127.0.0.1 $2" --logfile "$tmp/replica.log" 2>/dev/null &
  else
    redis-server --port "$REPLICA_PORT" --dir "$tmp/replica" --save "" \
      --replicaof 127.0.0.1 "$2" --logfile "$tmp/replica.log" &
  fi
  rppid=$!
  for _ in $(seq 200); do
    redis-cli -p "$REPLICA_PORT" info replication 2>/dev/null | grep -q 'master_link_status:up' && break
    sleep 0.1
  done
}
rps() { # port pipeline
  redis-benchmark -p "$1" -c "$CLIENTS" -n "$N" -P "$2" --csv publish ch hello 2>/dev/null \
    | awk -F'","' 'NR>1 {gsub(/"/,"",$2); r = $2} END {print r}'
}

results="$tmp/results" # lines: setup pipeline server rps
: >"$results"
for _ in $(seq "$ROUNDS"); do
  for server in sledis redis; do
    if [ "$server" = sledis ]; then start_sledis; port=$SLEDIS_PORT; else start_redis; port=$REDIS_PORT; fi
    for p in 1 16; do echo "alone $p $server $(rps "$port" "$p")" >>"$results"; done
    start_replica "$server" "$port"
    for p in 1 16; do echo "replica $p $server $(rps "$port" "$p")" >>"$results"; done
    stop_replica
    stop_servers
  done
done

echo "PUBLISH ch hello: $N requests, $CLIENTS clients ($(nproc) cores), median of $ROUNDS rounds"
printf "%-13s %-4s %12s %12s %7s\n" master -P sledis redis ratio
for setup in alone replica; do
  for p in 1 16; do
    med() { awk -v s="$setup" -v p="$p" -v v="$1" '$1==s && $2==p && $3==v {print $4}' "$results" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
    s=$(med sledis) r=$(med redis)
    printf "%-13s %-4s %12s %12s %7s\n" "$setup" "$p" "$s" "$r" "$(awk -v s="$s" -v r="$r" 'BEGIN {printf "%.2fx", s/r}')"
  done
done
