#!/usr/bin/env bash
# bench/discovery.sh: ksocket scan against arp-scan, nmap, fping and masscan, ksocket
# snmp walk against snmpbulkwalk, ksocket snmp sweep against onesixtyone and nmap -sU,
# side by side in the same throwaway labs (network namespaces, 198.18.0.0/15), as root.
# Measures the shipped binary (static musl x86_64 from targets/build.sh) when the
# cross toolchain is there, else the native release build (its RSS is higher:
# dynamic glibc). Prints markdown tables for docs/performance.md.
#   RUNS=3   runs per tool (median shown)
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "bench/discovery.sh: run as root (network namespaces)" >&2; exit 1; }
scripts/setup.sh >&2
cargo build -q --release -p ksocket -p ksocket-lab
bin=target/release/ksocket
if targets/build.sh x86_64 >/dev/null 2>&1; then
    bin=target/x86_64-unknown-linux-musl/release/ksocket
fi
echo "binary: $bin ($(stat -c %s "$bin") bytes; $(file -b "$bin" | cut -d, -f1-2))"
echo "date: $(date -u +%Y-%m-%dT%H:%MZ); $(nproc) cores; kernel $(uname -r)"
for t in arp-scan nmap fping masscan snmp onesixtyone; do printf '%s: %s\n' "$t" "$(dpkg-query -W -f '${Version}' "$t" 2>/dev/null)"; done
exec target/release/kst-bench --ksocket "$bin" --runs "${RUNS:-3}"
