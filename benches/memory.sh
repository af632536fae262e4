#!/usr/bin/env bash
# Resident memory and on-disk size after loading KEYS keys (default 1M,
# 32-byte values) into sledis and into a real redis-server (appendonly yes),
# loaded the same way (redis-cli --pipe).
#
#   bash benches/memory.sh
set -euo pipefail
cd "$(dirname "$0")/.."
KEYS=${KEYS:-1000000}
SLEDIS_PORT=${SLEDIS_PORT:-7381}
REDIS_PORT=${REDIS_PORT:-7382}
source benches/servers.sh
python3 - "$KEYS" > "$tmp/load.resp" <<'PY'
import sys
n = int(sys.argv[1]); v = "v" * 32; out = sys.stdout
for i in range(n):
    k = "key:%010d" % i
    out.write("*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(k), k, len(v), v))
PY
rss() { awk '/VmRSS/ {print $2 * 1024}' /proc/"$1"/status; }
mb() { awk -v b="$1" 'BEGIN { printf "%.1f MB", b / 1048576 }'; }
for who in sledis redis; do
  if [ $who = sledis ]; then port=$SLEDIS_PORT; pid=$spid; else port=$REDIS_PORT; pid=$rpid; fi
  start=$(date +%s.%N)
  redis-cli -p $port --pipe < "$tmp/load.resp" >/dev/null
  secs=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
  n=$(redis-cli -p $port dbsize)
  sleep 12 # let sledis move its write buffer into sled (it does so every 10 s)
  echo "$who: $n keys loaded in ${secs}s, RSS $(mb "$(rss $pid)"), data dir $(mb "$(du -sb "$tmp/$who" | cut -f1)")"; [ $who = sledis ] && du -sh "$tmp/sledis"/* && redis-cli -p $port info memory | grep -E "write_buffer|read_cache" || true
done
