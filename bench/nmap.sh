#!/usr/bin/env bash
# bench/nmap.sh: the services of a /24, ksocket scan against nmap, side by side in the
# same throwaway lab (network namespaces, 198.18.0.0/15), as root: the default scan
# against `nmap -sS -R -p <the spec's ports>`, `--ports top100` against
# `nmap -sS -R --top-ports 100`, `--no-ports` against `nmap -sn -R`; wall time
# (min/median/max of RUNS runs), recall of hosts and open ports, names, peak RSS.
# Measures the static musl x86_64 build when the cross toolchain is there, else the
# native release build. Prints a markdown table for docs/performance.md.
#   RUNS=5   runs per tool
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "bench/nmap.sh: run as root (network namespaces)" >&2; exit 1; }
scripts/setup.sh >&2
cargo build -q --release -p ksocket -p ksocket-lab
bin=target/release/ksocket
if targets/build.sh x86_64 >/dev/null 2>&1; then
    bin=target/x86_64-unknown-linux-musl/release/ksocket
fi
echo "binary: $bin ($(stat -c %s "$bin") bytes; $(file -b "$bin" | cut -d, -f1-2))"
echo "date: $(date -u +%Y-%m-%dT%H:%MZ); $(nproc) cores; kernel $(uname -r); nmap $(dpkg-query -W -f '${Version}' nmap 2>/dev/null)"
exec target/release/kst-ports-bench "$bin" "${RUNS:-5}"
