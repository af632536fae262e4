#!/usr/bin/env bash
# Scale: N keys (`key:%012d`, 100-byte values) loaded with redis-cli --pipe
# into sledis and into Debian's redis-server (appendonly yes, everysec),
# one server at a time, then random GETs over all keys, then a restart.
# A third run puts sledis alone under `maxmemory 256mb` in a 640 MB memory
# cgroup (cgroup v1; skipped with a note where there is none).
#
#   bash benches/scale.sh                 # 1M and 5M keys
#   SIZES="1000000" bash benches/scale.sh
#
# Columns: load rate; peak RSS during the load (VmHWM); RSS once settled
# (sledis: the write buffer is in sled); data dir; GET rate and p99 (50
# clients, redis-benchmark -r N); time from start to every key served after
# SIGTERM, and after kill -9 (sledis only; Redis reloads the same AOF).
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES=${SIZES:-"1000000 5000000"}
PORT=${PORT:-7391}
GETS=${GETS:-300000}
MAXMEM=${MAXMEM:-256mb}
CGROUP_LIMIT=${CGROUP_LIMIT:-$((640 * 1024 * 1024))}
cargo build --release --quiet --bin sledis-server
tmp=$(mktemp -d)
pid=
cg=/sys/fs/cgroup/memory/sledis-scale-$$
cleanup() {
  [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  [ -d "$cg" ] && rmdir "$cg" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

gen() { # N -> RESP on stdout
  python3 - "$1" <<'PY'
import sys
n = int(sys.argv[1]); out = sys.stdout.buffer; buf = []
for i in range(n):
    k = b"key:%012d" % i
    v = (b"%d:" % i).ljust(100, b"x")
    buf.append(b"*3\r\n$3\r\nSET\r\n$16\r\n%s\r\n$100\r\n%s\r\n" % (k, v))
    if len(buf) == 10000:
        out.write(b"".join(buf)); buf = []
out.write(b"".join(buf))
PY
}
now() { date +%s.%N; }
since() { awk -v s="$1" -v e="$(now)" 'BEGIN { printf "%.2f", e - s }'; }
mb() { awk -v b="$1" 'BEGIN { printf "%.0f", b / 1048576 }'; }
status_kb() { awk -v f="$2:" '$1 == f { print $2 * 1024 }' /proc/"$1"/status; }
cli() { redis-cli -p "$PORT" "$@"; }

start() { # who mode dir
  local who=$1 mode=$2 dir=$3
  local cmd
  if [ "$who" = redis ]; then
    cmd="exec redis-server --port $PORT --dir $dir --appendonly yes --appendfsync everysec --save '' --logfile $dir.log"
  else
    local extra=""
    [ "$mode" = cgroup ] && extra="--maxmemory $MAXMEM"
    cmd="exec ./target/release/sledis-server --port $PORT --dir $dir --save '' --logfile $dir.log $extra"
  fi
  if [ "$mode" = cgroup ]; then
    sh -c "echo \$\$ > $cg/cgroup.procs; $cmd" 2>/dev/null &
  else
    sh -c "$cmd" 2>/dev/null &
  fi
  pid=$!
}
# Seconds from `t0` until key:000000000000 is served with its value (100
# bytes; redis-benchmark's SETs below write the same key names and size).
served_after() {
  local t0=$1
  for _ in $(seq 6000); do
    [ "$(cli strlen key:000000000000 2>/dev/null)" = 100 ] && { since "$t0"; return; }
    kill -0 "$pid" 2>/dev/null || { echo "died"; return; }
    sleep 0.005
  done
  echo "timeout"
}
settle() { # sledis: wait until sled holds the write buffer
  [ "$1" = redis ] && return
  for _ in $(seq 600); do
    local i; i=$(cli info persistence | tr -d '\r')
    local a w
    a=$(echo "$i" | awk -F: '$1=="sled_applied_offset"{print $2}')
    w=$(echo "$i" | awk -F: '$1=="wal_written_offset"{print $2}')
    [ -n "$a" ] && [ "$a" -ge "$w" ] && return
    sleep 0.5
  done
}
stop_term() {
  kill -TERM "$pid"; wait "$pid" 2>/dev/null || true; pid=
}

printf "%-8s %-16s %10s %9s %9s %8s %10s %8s %9s %9s %6s\n" keys server "load k/s" "peak MB" "settled" "disk MB" "GET k/s" "p99 ms" "restart" "kill -9" "dbsize"
for n in $SIZES; do
  gen "$n" > "$tmp/load.resp"
  for run in sledis redis sledis-cgroup; do
    who=${run%%-*}; mode=plain
    if [ "$run" = sledis-cgroup ]; then
      mode=cgroup
      if ! mkdir -p "$cg" 2>/dev/null || [ ! -w "$cg/memory.limit_in_bytes" ]; then
        echo "$n sledis-cgroup: no writable cgroup v1 memory controller here; skipped"
        continue
      fi
      echo "$CGROUP_LIMIT" > "$cg/memory.limit_in_bytes"
    fi
    dir=$tmp/$run; rm -rf "$dir" "$dir.log"; mkdir -p "$dir"
    start "$who" "$mode" "$dir"
    for _ in $(seq 100); do cli ping >/dev/null 2>&1 && break; sleep 0.05; done
    t0=$(now)
    cli --pipe < "$tmp/load.resp" > /dev/null
    secs=$(since "$t0")
    rate=$(awk -v n="$n" -v s="$secs" 'BEGIN { printf "%.0f", n / s / 1000 }')
    settle "$who"
    peak=$(mb "$(status_kb "$pid" VmHWM)")
    sleep 1
    settled=$(mb "$(status_kb "$pid" VmRSS)")
    csv=$(redis-benchmark -p "$PORT" -t get -r "$n" -n "$GETS" -c 50 --csv 2>/dev/null | tail -1 | tr -d '"')
    grate=$(echo "$csv" | awk -F, '{ printf "%.0f", $2 / 1000 }')
    p99=$(echo "$csv" | awk -F, '{ print $7 }')
    peak=$(mb "$(status_kb "$pid" VmHWM)")
    disk=$(mb "$(du -sb "$dir" | cut -f1)")
    stop_term
    start "$who" "$mode" "$dir"; restart=$(served_after "$(now)")
    k9="-"
    if [ "$who" = sledis ]; then
      # Writes in flight, then kill -9: replay covers what sled lacked.
      redis-benchmark -p "$PORT" -t set -r "$n" -n 100000 -d 100 -c 20 -q > /dev/null 2>&1 || true
      kill -9 "$pid"; wait "$pid" 2>/dev/null || true
      start "$who" "$mode" "$dir"; k9=$(served_after "$(now)")
    fi
    keys=$(cli dbsize)
    printf "%-8s %-16s %10s %9s %9s %8s %10s %8s %9s %9s %6s\n" "$n" "$run" "$rate" "$peak" "$settled" "$disk" "$grate" "$p99" "$restart" "$k9" "$keys"
    kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true; pid=
    [ "$mode" = cgroup ] && grep -q . "$cg/memory.failcnt" && echo "    cgroup: max usage $(mb "$(cat $cg/memory.max_usage_in_bytes)") MB (page cache included), limit hits $(cat $cg/memory.failcnt), OOM kills $(awk '/oom_kill /{print $2}' $cg/memory.oom_control)"
    rm -rf "$dir"
  done
done
