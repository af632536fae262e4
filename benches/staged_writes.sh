#!/usr/bin/env bash
# Commands that write a big new value in one go, beside a real
# redis-server: a BITOP NOT whose result is 512 MB of dense bytes, then
# SUNIONSTORE of a 1M-member set and RENAME of the result (sledis copies a
# collection's elements under the new name). Each server runs alone; the
# sledis node with maxmemory 64mb. Prints each command's time and the
# server's peak RSS (VmHWM) after it. Stage records (`store/stage.rs`)
# keep sledis's peak bounded.
#
#   bash benches/staged_writes.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SLEDIS_PORT=${SLEDIS_PORT:-7379}
REDIS_PORT=${REDIS_PORT:-7380}
MEMBERS=${MEMBERS:-1000000}
SERVERS_MANUAL=1
source benches/servers.sh

run() { # name port pid
  python3 - "$@" "$MEMBERS" <<'PY'
import sys, time
import redis
name, port, pid, members = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
c = redis.Redis(port=port, socket_timeout=600)
def peak():
    for l in open(f"/proc/{pid}/status"):
        if l.startswith("VmHWM"):
            return int(l.split()[1]) // 1024
def timed(what, f):
    t = time.perf_counter()
    r = f()
    print(f"{name:6} {what:32} {time.perf_counter() - t:7.2f} s  peak RSS {peak():5} MB  ({r})")
c.setbit("src", (1 << 32) - 1, 1)
timed("BITOP NOT (512 MB, dense)", lambda: c.bitop("NOT", "dest", "src"))
p = c.pipeline(transaction=False)
for i in range(0, members, 1000):
    p.sadd("s", *[f"member:{j:08d}" for j in range(i, i + 1000)])
    if i % 50000 == 0:
        p.execute()
p.execute()
print(f"{name:6} {'(loaded ' + str(members) + ' members)':32}            peak RSS {peak():5} MB")
timed(f"SUNIONSTORE ({members} members)", lambda: c.sunionstore("d", "s"))
timed("RENAME of that set", lambda: c.rename("d", "e"))
PY
}
start_sledis
redis-cli -p "$SLEDIS_PORT" config set maxmemory 64mb >/dev/null
run sledis "$SLEDIS_PORT" "$spid"
stop_servers
start_redis
run redis "$REDIS_PORT" "$rpid"
stop_servers
