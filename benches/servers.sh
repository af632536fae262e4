# Sourced by the benchmark scripts: builds sledis-server and starts it beside
# a real redis-server (appendonly yes), both with appendfsync $FSYNC, each in
# its own temp dir; both are killed by PID when the script exits.
# Needs SLEDIS_PORT, REDIS_PORT; sets $tmp, $spid, $rpid.
FSYNC=${FSYNC:-everysec}
cargo build --release --quiet --bin sledis-server
tmp=$(mktemp -d)
cleanup() {
  [ -n "${spid:-}" ] && kill -9 "$spid" 2>/dev/null || true
  [ -n "${rpid:-}" ] && kill -9 "$rpid" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
mkdir -p "$tmp/sledis" "$tmp/redis"
./target/release/sledis-server --port "$SLEDIS_PORT" --dir "$tmp/sledis" --appendfsync "$FSYNC" --save "" --logfile "$tmp/sledis.log" 2>/dev/null &
spid=$!
redis-server --port "$REDIS_PORT" --dir "$tmp/redis" --appendonly yes --appendfsync "$FSYNC" --save "" --logfile "$tmp/redis.log" &
rpid=$!
for p in "$SLEDIS_PORT" "$REDIS_PORT"; do
  for _ in $(seq 100); do redis-cli -p "$p" ping >/dev/null 2>&1 && break; sleep 0.1; done
done
