#!/usr/bin/env bash
# Failover time: a master and two replicas watched by three sentinels
# (quorum 2, down-after 1000 ms, failover-timeout 5000 ms); the master is
# killed with SIGKILL and we time, from the kill,
#   write:  the first write (SET) a replica answers with OK, and
#   switch: the first +switch-master event published by a sentinel.
# Setups (SETUPS, space separated):
#   sledis  sledis-server nodes + sledis-sentinel
#   mixed   sledis-server nodes + redis-sentinel (Debian's)
#   redis   redis-server nodes  + redis-sentinel (reference row)
# Every run starts a fresh group (fresh data dirs); a run that has not seen
# both events 30 s after the kill counts as failed. Prints min/median/max in
# ms per setup and the ratio of the sledis-sentinel medians to the
# redis-sentinel ones (both over sledis-server nodes).
#
#   bash benches/failover.sh                      # RUNS=10, all three setups
#   RUNS=3 SETUPS="sledis mixed" bash benches/failover.sh
#   KEEP=1 bash benches/failover.sh               # keep the logs in the temp dir
#
# Uses the release binaries as they are: build them first with
# `cargo build --release --bins`.
set -euo pipefail
cd "$(dirname "$0")/.."
export LC_ALL=C # EPOCHREALTIME must use a '.' separator
RUNS=${RUNS:-10}
SETUPS=${SETUPS:-"sledis mixed redis"}
PORT=${PORT:-7400}        # nodes PORT..PORT+2 (PORT is the master)
SPORT=${SPORT:-27400}     # sentinels SPORT..SPORT+2
KEEP=${KEEP:-}
LIMIT_NS=30000000000
SLEDIS_SERVER=$PWD/target/release/sledis-server
SLEDIS_SENTINEL=$PWD/target/release/sledis-sentinel

for b in "$SLEDIS_SERVER" "$SLEDIS_SENTINEL"; do
  [ -x "$b" ] || { echo "missing $b: run cargo build --release --bins" >&2; exit 1; }
done
for b in redis-server redis-sentinel redis-cli; do
  command -v $b >/dev/null || { echo "missing $b (apt-get install redis-server redis-sentinel redis-tools)" >&2; exit 1; }
done

nodes=($PORT $((PORT + 1)) $((PORT + 2)))
sentinels=($SPORT $((SPORT + 1)) $((SPORT + 2)))
tmp=$(mktemp -d /tmp/sledis-failover.XXXXXX)
pids=()

stop_all() {
  local p
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  # wait reaps them (and keeps bash's "Killed" job notices off the output)
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
}
cleanup() {
  stop_all
  if [ -n "$KEEP" ]; then echo "logs kept in $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# EPOCHREALTIME rather than $(date +%s%N): same clock, µs resolution, but
# no fork, so the kill timestamp is taken right after the kill and the
# polling loop does not pay ~1 ms per timestamp. Sets NOW (ns).
now() { local t=$EPOCHREALTIME; NOW=$(( ${t/./} * 1000 )); }

listening() { ss -Hltn "sport = :$1" | grep -q .; }

wait_ports_free() {
  local p i
  for p in "${nodes[@]}" "${sentinels[@]}"; do
    for i in $(seq 100); do listening "$p" || break; sleep 0.1; done
    if listening "$p"; then echo "port $p still in use" >&2; exit 1; fi
  done
}

start_node() { # server-binary dir port [masterport]
  local bin=$1 dir=$2 port=$3 master=${4:-}
  mkdir -p "$dir"
  {
    echo "port $port"
    echo "dir $dir"
    echo 'save ""'
    echo "logfile $dir/server.log"
    if [ -n "$master" ]; then echo "replicaof 127.0.0.1 $master"; fi
  } > "$dir/node.conf"
  "$bin" "$dir/node.conf" > "$dir/stdout.log" 2>&1 &
  pids+=($!)
}

start_sentinel() { # sentinel-binary dir port masterport
  local bin=$1 dir=$2 port=$3 master=$4
  mkdir -p "$dir"
  # The sentinel rewrites this file, so each one gets its own copy.
  cat > "$dir/sentinel.conf" <<EOF
port $port
sentinel monitor mymaster 127.0.0.1 $master 2
sentinel down-after-milliseconds mymaster 1000
sentinel failover-timeout mymaster 5000
EOF
  "$bin" "$dir/sentinel.conf" > "$dir/sentinel.log" 2>&1 &
  pids+=($!)
}

# Copies the `mymaster <old-ip> <old-port> <new-ip> <new-port>` lines of a
# +switch-master subscriber to $2, each prefixed with its arrival time, and
# creates $1 once the subscription is confirmed. Stamping on arrival (rather
# than when the main loop next looks at the file) makes the switch time
# independent of the polling period; redis-cli flushes stdout after each
# pub/sub message, so nothing sits in a buffer.
stamp() {
  local ready=$1 out=$2 line t
  while IFS= read -r line; do
    t=$EPOCHREALTIME
    [ -e "$ready" ] || : > "$ready"
    if [[ $line == "mymaster "* ]]; then echo "$(( ${t/./} * 1000 )) $line" >> "$out"; fi
  done
}

subscribe() { # dir sentinelport
  local dir=$1 port=$2
  # A fifo, not a pipe, so that both ends have a PID of their own to kill.
  mkfifo "$dir/sub.fifo"
  stamp "$dir/sub.ready" "$dir/switch" < "$dir/sub.fifo" &
  pids+=($!)
  redis-cli -p "$port" subscribe +switch-master > "$dir/sub.fifo" 2>"$dir/sub.err" &
  pids+=($!)
}

ready() { # 0 when every sentinel knows 2 replicas + 2 other sentinels and the replicas are linked
  local s r v
  for s in "${sentinels[@]}"; do
    v=$(redis-cli -p "$s" sentinel master mymaster 2>/dev/null |
      awk 'NR % 2 { k = $0; next } k == "num-slaves" { a = $0 } k == "num-other-sentinels" { b = $0 }
           END { print a "/" b }') || return 1
    [ "$v" = 2/2 ] || return 1
  done
  for r in "${nodes[@]:1}"; do
    redis-cli -p "$r" info replication 2>/dev/null | grep -q '^master_link_status:up' || return 1
  done
}

# One run; sets W and S (ms, empty if not seen), NEW (the replica that took
# the write), SW (first switch-master line) and NOTE (what the logs say).
run_once() { # setup run-number
  local setup=$1 n=$2 server sentinel dir i s r f ts rest t0 first=""
  case $setup in
    sledis) server=$SLEDIS_SERVER; sentinel=$SLEDIS_SENTINEL ;;
    mixed) server=$SLEDIS_SERVER; sentinel=$(command -v redis-sentinel) ;;
    redis) server=$(command -v redis-server); sentinel=$(command -v redis-sentinel) ;;
  esac
  W="" S="" NEW="" SW="" NOTE=""
  dir=$tmp/$setup-$n
  wait_ports_free
  start_node "$server" "$dir/n${nodes[0]}" "${nodes[0]}"
  for r in "${nodes[@]:1}"; do start_node "$server" "$dir/n$r" "$r" "${nodes[0]}"; done
  # Sentinels only after the replicas are linked: a sentinel discovers them
  # from the master's INFO, which it repeats only every 10 s.
  for i in $(seq 300); do
    ok=1
    for r in "${nodes[@]:1}"; do
      redis-cli -p "$r" info replication 2>/dev/null | grep -q '^master_link_status:up' || ok=""
    done
    [ -n "$ok" ] && break
    sleep 0.1
  done
  for s in "${sentinels[@]}"; do start_sentinel "$sentinel" "$dir/s$s" "$s" "${nodes[0]}"; done
  for i in $(seq 300); do ready && break; sleep 0.1; done
  if ! ready; then NOTE="group not ready after 30 s"; stop_all; return; fi
  for s in "${sentinels[@]}"; do subscribe "$dir/s$s" "$s"; done
  for i in $(seq 100); do
    ok=1; for s in "${sentinels[@]}"; do [ -e "$dir/s$s/sub.ready" ] || ok=""; done
    [ -n "$ok" ] && break; sleep 0.05
  done

  # disown: bash reaps it during the polling below and would print a
  # "Killed" notice there that no redirection can silence.
  disown "${pids[0]}"
  kill -9 "${pids[0]}"
  now; t0=$NOW
  while :; do
    if [ -z "$W" ]; then
      for r in "${nodes[@]:1}"; do
        # READONLY (error) until the sentinel has sent REPLICAOF NO ONE
        if [ "$(redis-cli -p "$r" set failover-probe x 2>/dev/null)" = OK ]; then
          now; W=$(( (NOW - t0) / 1000000 )); NEW=$r; break
        fi
      done
    fi
    if [ -z "$S" ]; then
      # The first +switch-master is usually not the leader's: as in Redis,
      # the leader switches only at +failover-end (once the other replica is
      # reconfigured) while the others switch as soon as its hello carries
      # the new config epoch. Either way it is the first moment a client
      # asking a sentinel (get-master-addr-by-name) gets the new master.
      # The subscription beats polling get-master-addr-by-name on three
      # sentinels every 10 ms: no extra forks competing with the sentinels
      # for the 2 cores, and no error of up to one polling period.
      # The stamper dated each line itself; events that arrive after this
      # check are later than anything already in a file, so the minimum
      # over the files present is final.
      for s in "${sentinels[@]}"; do
        f=$dir/s$s/switch
        [ -s "$f" ] || continue
        read -r ts rest < "$f"
        if [ -z "$first" ] || [ "$ts" -lt "$first" ]; then first=$ts; SW="$rest (sentinel $s)"; fi
      done
      [ -n "$first" ] && S=$(( (first - t0) / 1000000 ))
    fi
    [ -n "$W" ] && [ -n "$S" ] && break
    now; (( NOW - t0 > LIMIT_NS )) && break
    sleep 0.01
  done
  # Give the other sentinels a moment to log their side before we read logs.
  sleep 0.5
  NOTE=$(cat "$dir"/s*/sentinel.log | awk '
    /\+try-failover/ { t++ } /-failover-abort/ { a++ } /\+tilt/ { tl++ }
    /\+new-epoch/ { if ($NF + 0 > e) e = $NF + 0 }
    END { printf "try-failover=%d epoch=%d", t, e; if (a) printf " aborts=%d", a; if (tl) printf " tilt=%d", tl }')
  stop_all
}

stats() { # values... -> "min median max" (ms), or "- - -"
  [ $# -eq 0 ] && { echo "- - -"; return; }
  printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 }
    END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; print v[1], m, v[NR] }'
}

echo "command: RUNS=$RUNS SETUPS=\"$SETUPS\" PORT=$PORT SPORT=$SPORT bash benches/failover.sh"
echo "$(nproc) cores, redis $(redis-server --version | grep -o 'v=[^ ]*'), down-after 1000 ms, failover-timeout 5000 ms, quorum 2"
declare -A row label=(
  [sledis]="sledis-server + sledis-sentinel"
  [mixed]="sledis-server + redis-sentinel"
  [redis]="redis-server + redis-sentinel"
)
for setup in $SETUPS; do
  [ -n "${label[$setup]:-}" ] || { echo "unknown setup $setup" >&2; exit 1; }
  ws=() ss=() fails=0
  for n in $(seq "$RUNS"); do
    run_once "$setup" "$n"
    if [ -n "$W" ] && [ -n "$S" ]; then
      ws+=("$W"); ss+=("$S")
      echo "  $setup #$n: write ${W} ms (on $NEW), switch ${S} ms [$SW] $NOTE"
    else
      fails=$((fails + 1))
      echo "  $setup #$n: FAILED (not both events within 30 s) write=${W:--} switch=${S:--} $NOTE"
    fi
  done
  row[$setup]="$(stats "${ws[@]}") $(stats "${ss[@]}") $fails"
done

echo
printf "%-32s %23s %23s %6s\n" "" "write (ms)" "switch-master (ms)" ""
printf "%-32s %7s %7s %7s %7s %7s %7s %6s\n" setup min median max min median max failed
for setup in $SETUPS; do
  printf "%-32s %7s %7s %7s %7s %7s %7s %6s\n" "${label[$setup]}" ${row[$setup]}
done
if [ -n "${row[sledis]:-}" ] && [ -n "${row[mixed]:-}" ]; then
  read -r _ sw _ _ ss _ _ <<< "${row[sledis]}"
  read -r _ rw _ _ rs _ _ <<< "${row[mixed]}"
  ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "-" && b != "-" && b > 0) printf "%.2f", a / b; else print "n/a" }'; }
  echo "median ratio sledis-sentinel / redis-sentinel (sledis-server nodes): write $(ratio "$sw" "$rw"), switch-master $(ratio "$ss" "$rs")"
fi
