#!/usr/bin/env bash
# bench/names.sh: what host-name lookups (reverse DNS, NetBIOS, mDNS) add to a scan of
# a /24: the same `ksocket scan` of 200 live hosts with and without --no-names, run in
# turn (A B A B ...) in one throwaway lab (kst-lab hold-names: a dnsmasq with a PTR
# record for every host, an nmbd, an avahi-daemon; every 5th host silent to all name
# queries), as root. Prints the wall time of each and the difference of the medians.
#   RUNS=10   runs of each
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "bench/names.sh: run as root (network namespaces)" >&2; exit 1; }
scripts/setup.sh >&2
cargo build -q --release -p ksocket -p ksocket-lab
bin="$(pwd)/target/release/ksocket"
runs="${RUNS:-10}"
out="$(mktemp -d)"
target/release/kst-lab hold-names 900 >"$out/ns" 2>"$out/lab.err" &
lab=$!
ns=""
# Killed, the lab leaves its scanner's /etc/netns/NS (the lab's next start sweeps it too).
cleanup() {
    set +e
    kill "$lab" 2>/dev/null
    wait "$lab" 2>/dev/null
    rm -rf "$out"
    [ -n "$ns" ] && rm -rf "/etc/netns/$ns"
    rmdir /etc/netns 2>/dev/null
    return 0
}
trap cleanup EXIT
for _ in $(seq 300); do [ -s "$out/ns" ] && break; kill -0 $lab 2>/dev/null || break; sleep 0.1; done
ns="$(head -1 "$out/ns")"
[ -n "$ns" ] || { cat "$out/lab.err" >&2; exit 1; }
scan=(ip netns exec "$ns" "$bin" scan --no-details --format jsonl 198.18.0.0/24)
echo "binary: $bin ($(stat -c %s "$bin") bytes); $(nproc) cores; kernel $(uname -r); $(date -u +%Y-%m-%dT%H:%MZ)"
"${scan[@]}" >"$out/names.jsonl" 2>"$out/names.err"
"${scan[@]}" --no-names >"$out/none.jsonl" 2>/dev/null
echo "hosts: $(wc -l <"$out/names.jsonl"); with names: $(grep -c '"names"' "$out/names.jsonl" || true)" \
     "(ptr $(grep -o '"source":"ptr"' "$out/names.jsonl" | wc -l)," \
     "netbios $(grep -o '"source":"netbios"' "$out/names.jsonl" | wc -l)," \
     "mdns $(grep -o '"source":"mdns"' "$out/names.jsonl" | wc -l))"
ms() { local t0 t1; t0=$(date +%s%N); "$@" >/dev/null 2>&1; t1=$(date +%s%N); echo $(( (t1 - t0) / 1000000 )); }
: >"$out/a"; : >"$out/b"
for _ in $(seq "$runs"); do
    ms "${scan[@]}" >>"$out/a"
    ms "${scan[@]}" --no-names >>"$out/b"
done
med() { sort -n "$1" | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
a=$(med "$out/a"); b=$(med "$out/b")
echo "| scan of a /24 (200 live hosts) | wall ms, median of $runs |"
echo "| --- | --- |"
echo "| with names | $a |"
echo "| --no-names | $b |"
echo "| names add | $((a - b)) |"
