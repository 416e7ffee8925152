#!/usr/bin/env bash
# controller-agents.sh - what 1000 connected agents cost a controller on SQLite:
# starts `ksocket-controller serve --plain-ws` on 127.0.0.1, makes the tokens with the
# CLI, runs ksocket-loadgen (AGENTS connections, a heartbeat every INTERVAL s) and
# measures the controller's VmRSS (from /proc) and CPU (utime+stime) over a WINDOW of
# seconds once every agent is connected. Loopback only; everything stops by itself.
#
#   AGENTS=1000 INTERVAL=5 WINDOW=60 bench/controller-agents.sh
#
# The controller is built optimised but without the release profile's LTO (a bench
# build in target/bench, minutes faster); set BENCH_PROFILE=release for the real one.
# BENCH_PERF=FILE records a perf profile of the controller over the window.
set -euo pipefail
AGENTS="${AGENTS:-1000}"
INTERVAL="${INTERVAL:-5}"
WINDOW="${WINDOW:-60}"
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

if [ "${BENCH_PROFILE:-}" = release ]; then
    cargo build --release -p ksocket-controller >&2
    bin="$root/target/release"
else
    CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
        CARGO_PROFILE_RELEASE_OPT_LEVEL=3 \
        cargo build --release -p ksocket-controller --target-dir target/bench >&2
    bin="$root/target/bench/release"
fi
ctl="$bin/ksocket-controller"
gen="$bin/ksocket-loadgen"

work="$(mktemp -d /tmp/ksocket-bench.XXXXXX)"
pid=""
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT INT TERM
ulimit -n 65536 2>/dev/null || ulimit -n 8192 2>/dev/null || true

echo "making $AGENTS tokens..." >&2
t0=$(date +%s)
seq 1 "$AGENTS" | xargs -P 2 -I{} "$ctl" --data "$work/data" token create "load-{}" \
    | grep '^kst_' > "$work/tokens"
echo "tokens: $(wc -l < "$work/tokens") in $(( $(date +%s) - t0 )) s" >&2

port=$(( 20000 + RANDOM % 20000 ))
"$ctl" --data "$work/data" serve --plain-ws --listen "127.0.0.1:$port" > "$work/serve.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
    grep -q "listening on" "$work/serve.log" 2>/dev/null && break
    sleep 0.1
done
grep -q "listening on" "$work/serve.log" || { cat "$work/serve.log" >&2; exit 1; }

rss() { awk '/^VmRSS/ {print $2}' "/proc/$pid/status"; }
ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
hz=$(getconf CLK_TCK)
rss0=$(rss)

ramp=200
ramp_s=$(( AGENTS / ramp + 1 ))
"$gen" --url "ws://127.0.0.1:$port/api/ksocket/connect" --tokens "$work/tokens" \
    --interval "$INTERVAL" --duration $(( WINDOW + 10 )) --ramp "$ramp" > "$work/loadgen.log" 2>&1 &
gen_pid=$!
# Every agent connected and settled, then the window.
sleep $(( ramp_s + 5 ))
c0=$(ticks)
s0=$(date +%s.%N)
if [ -n "${BENCH_PERF:-}" ]; then
    perf record -g -p "$pid" -o "$BENCH_PERF" -- sleep "$WINDOW" >/dev/null 2>&1
else
    sleep "$WINDOW"
fi
c1=$(ticks)
s1=$(date +%s.%N)
rss1=$(rss)
wait "$gen_pid" || true
cat "$work/loadgen.log"
connected=$(grep -c "agent load-.*: connected" "$work/serve.log" || true)

awk -v a="$AGENTS" -v r0="$rss0" -v r1="$rss1" -v c0="$c0" -v c1="$c1" -v hz="$hz" \
    -v s0="$s0" -v s1="$s1" -v iv="$INTERVAL" -v conn="$connected" 'BEGIN {
    win = s1 - s0; cpu = (c1 - c0) / hz;
    printf "controller: %d agents connected (log), heartbeat every %d s, window %.1f s\n", conn, iv, win;
    printf "RSS: %d KiB idle, %d KiB with the agents: %.1f KiB per agent (total / agents: %.1f KiB)\n", r0, r1, (r1 - r0) / a, r1 / a;
    printf "CPU: %.2f s in %.1f s = %.2f%% of one core; %.4f%% of a core per agent\n", cpu, win, 100 * cpu / win, 100 * cpu / win / a;
}'
