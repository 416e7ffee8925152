#!/usr/bin/env bash
# bench/service.sh: the service mode's costs, measured side by side in one run.
#   - result throughput agent -> controller, in records/s, with the on-disk spool and
#     without it (KSOCKET_SPOOL=memory, a benchmark-only switch): a `collect` of a
#     /16 with no credential (65536 host records, nothing is sent on any network: no
#     credential applies, so no host is asked anything), paired run by run with
#     farm-bench --vs; the ratio is the spool's cost;
#   - the agent's idle RSS in service mode, over ws and over wss (pinned certificate).
# Agent and controllers talk over 127.0.0.1 only. Needs no root.
#   RUNS=5   pairs of runs
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${RUNS:-5}"
cargo build -q --release -p ksocket -p ksocket-controller
bin=target/release/ksocket
if [ -x /opt/ksocket-cross/bin/xcargo ] && targets/build.sh x86_64 >/dev/null 2>&1; then
    bin=target/x86_64-unknown-linux-musl/release/ksocket
fi
ctl=target/release/ksocket-controller
work="$(mktemp -d /tmp/kst-bench-service.XXXXXX)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# controller NAME [serve options...]: starts one, waits until it listens; sets PORT.
controller() {
    local name="$1"; shift
    PORT="$(free_port)"
    "$ctl" serve --listen "127.0.0.1:$PORT" --data "$work/$name" "$@" >"$work/$name.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 100); do grep -q "listening on" "$work/$name.log" 2>/dev/null && return; sleep 0.1; done
    echo "controller $name did not start: $(cat "$work/$name.log")" >&2; exit 1
}

# agent NAME PORT PROTOCOL [extra toml] [env...]: starts `ksocket connect`; sets APID.
agent() {
    local name="$1" port="$2" proto="$3" extra="${4:-}"; shift 4 || shift $#
    local home="$work/$name-home"
    mkdir -p "$home/etc/ksocket"
    local token; token="$("$ctl" token create "$name" --data "$work/$CTL" | tail -1)"
    printf 'logfile = "%s/agent.log"\n[connect]\ntoken = "%s"\nname = "%s"\nprotocol = "%s"\nhost = "127.0.0.1"\nport = %s\nheartbeatInterval = 60.0\n%s\n' \
        "$home" "$token" "$name" "$proto" "$port" "$extra" >"$home/etc/ksocket/ksocket.toml"
    env KSOCKET_HOME="$home" "$@" "$bin" connect &
    APID=$!
    pids+=($APID)
    for _ in $(seq 100); do grep -q "connected (protocol" "$home/agent.log" 2>/dev/null && return; sleep 0.1; done
    echo "agent $name did not connect: $(cat "$home/agent.log")" >&2; exit 1
}

echo "binary: $bin ($(stat -c %s "$bin") bytes; $(file -b "$bin" | cut -d, -f1-2))"
echo "date: $(date -u +%Y-%m-%dT%H:%MZ); $(nproc) cores; kernel $(uname -r)"

CTL=disk; controller disk --plain-ws; PDISK=$PORT
agent spool-on "$PDISK" ws ""; ADISK=$APID
CTL=mem; controller mem --plain-ws; PMEM=$PORT
agent spool-off "$PMEM" ws "" KSOCKET_SPOOL=memory
CTL=tls; controller tls; PTLS=$PORT
pin="$(awk '/sha256/ {print $NF; exit}' "$work/tls.log")"
agent wss "$PTLS" wss "pinnedSha256 = \"$pin\""; ATLS=$APID

sleep 10
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
echo
echo "## Agent idle in service mode (connected 10 s, heartbeat 60 s)"
echo "| connection | RSS |"
echo "|---|---|"
echo "| ws | $(rss "$ADISK") KiB |"
echo "| wss, pinned certificate | $(rss "$ATLS") KiB |"

echo
echo "## Results agent -> controller: collect of 198.18.0.0/16 (65536 records a run)"
echo "A: spool on disk (fdatasync per chunk of 200 records); B: KSOCKET_SPOOL=memory"
farm-bench -n "$RUNS" --timeout 1800 \
    --vs "$ctl collect --agent spool-off --wait --timeout 600 --data $work/mem 198.18.0.0/16" \
    -- "$ctl" collect --agent spool-on --wait --timeout 600 --data "$work/disk" 198.18.0.0/16
echo
echo "farm-bench's wall includes the CLI's polling of the database (every few hundred ms);"
echo "the controller's own clock is finer: from the operation's dispatch to the agent to its last chunk"
echo "stored, per run (the warm-up run included):"
for mode in disk mem; do
    "$ctl" operations --data "$work/$mode" --format json >"$work/$mode.ops.json"
done
python3 - "$work/disk.ops.json" "$work/mem.ops.json" <<'PY'
import json, statistics, sys
def per(path):
    ops = [o for o in json.load(open(path)) if o["kind"] == "collect" and o["state"] == "done"]
    return [(o["finished"] - o["sent"]) / 1000 for o in ops], [o["records"] for o in ops]
(d, dn), (m, mn) = per(sys.argv[1]), per(sys.argv[2])
assert all(n == 65536 for n in dn + mn), (dn, mn)
md, mm = statistics.median(d), statistics.median(m)
print("| spool | runs | seconds (min / median / max) | records/s (median) |")
print("|---|---|---|---|")
print(f"| on disk | {len(d)} | {min(d):.3f} / {md:.3f} / {max(d):.3f} | {65536/md:,.0f} |")
print(f"| memory only | {len(m)} | {min(m):.3f} / {mm:.3f} / {max(m):.3f} | {65536/mm:,.0f} |")
print(f"spool cost (on disk / memory, median seconds): {md/mm:.2f}x")
PY
echo "agent RSS after the runs: spool on $(rss "$ADISK") KiB"
