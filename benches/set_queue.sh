#!/usr/bin/env bash
# A set used as a random queue, beside a real redis-server in one run: it
# starts with SIZE members, then each step SADDs a new member and SPOPs one
# (pipelined, 100 steps per round trip, one client, python3-redis). Prints
# steps/s for each fifth of the run: a slowdown as the run goes on would
# mean pops stepping over earlier pops' deletions.
#
#   bash benches/set_queue.sh                 # SIZE=20, STEPS=100000
#   SIZE=100000 bash benches/set_queue.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE=${SIZE:-20}
STEPS=${STEPS:-100000}
SLEDIS_PORT=${SLEDIS_PORT:-7379}
REDIS_PORT=${REDIS_PORT:-7380}

source benches/servers.sh

python3 - "$SLEDIS_PORT" "$REDIS_PORT" "$SIZE" "$STEPS" <<'PY'
import sys, time
import redis

sport, rport, size, steps = map(int, sys.argv[1:])
batch = 100
rounds = steps // batch

def run(port):
    c = redis.Redis(port=port)
    c.delete("q")
    c.sadd("q", *[f"init{i}" for i in range(size)])
    rates, last = [], time.perf_counter()
    for b in range(rounds):
        p = c.pipeline(transaction=False)
        for i in range(batch):
            p.sadd("q", f"n{b}_{i}")
            p.spop("q")
        p.execute()
        if (b + 1) % (rounds // 5) == 0:
            now = time.perf_counter()
            rates.append(rounds // 5 * batch / (now - last))
            last = now
    assert c.scard("q") == size
    return rates

print(f"set queue: {size} members, {steps} SADD+SPOP steps, pipelined by {batch}")
s, r = run(sport), run(rport)
print("steps/s by fifth  sledis: " + " ".join(f"{x:.0f}" for x in s))
print("                  redis:  " + " ".join(f"{x:.0f}" for x in r))
# Each fifth is the same number of steps: the whole run's rate is the
# harmonic mean of the fifths'.
whole = lambda v: len(v) / sum(1 / x for x in v)
print(f"whole run: sledis {whole(s):.0f}, redis {whole(r):.0f}, ratio {whole(s) / whole(r):.2f}")
PY
