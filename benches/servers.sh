# Sourced by the benchmark scripts: builds sledis-server and starts it beside
# a real redis-server (appendonly yes), both with appendfsync $FSYNC, each in
# its own temp dir; both are killed by PID when the script exits.
# Needs SLEDIS_PORT, REDIS_PORT; sets $tmp, $spid, $rpid.
# With SERVERS_MANUAL=1 nothing is started: the script calls start_sledis,
# start_redis and stop_servers itself (to run one server at a time).
FSYNC=${FSYNC:-everysec}
cargo build --release --quiet --bin sledis-server
tmp=$(mktemp -d)
stop_servers() {
  [ -n "${spid:-}" ] && kill -9 "$spid" 2>/dev/null && wait "$spid" 2>/dev/null || true
  [ -n "${rpid:-}" ] && kill -9 "$rpid" 2>/dev/null && wait "$rpid" 2>/dev/null || true
  spid= rpid=
  rm -rf "$tmp/sledis" "$tmp/redis"
}
cleanup() {
  stop_servers
  rm -rf "$tmp"
}
trap cleanup EXIT
wait_ready() {
  for _ in $(seq 100); do redis-cli -p "$1" ping >/dev/null 2>&1 && break; sleep 0.1; done
}
start_sledis() {
  mkdir -p "$tmp/sledis"
  ./target/release/sledis-server --port "$SLEDIS_PORT" --dir "$tmp/sledis" --appendfsync "$FSYNC" --save "" --logfile "$tmp/sledis.log" 2>/dev/null &
  spid=$!
  wait_ready "$SLEDIS_PORT"
}
start_redis() {
  mkdir -p "$tmp/redis"
  redis-server --port "$REDIS_PORT" --dir "$tmp/redis" --appendonly yes --appendfsync "$FSYNC" --save "" --logfile "$tmp/redis.log" &
  rpid=$!
  wait_ready "$REDIS_PORT"
}
if [ "${SERVERS_MANUAL:-}" != 1 ]; then
  start_sledis
  start_redis
fi
