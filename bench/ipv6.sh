#!/usr/bin/env bash
# bench/ipv6.sh: IPv6 link discovery on a link of 50 hosts and a router (issue 15's
# target: found in under 1 s), ksocket scan against ping -6 ff02::1, in a throwaway
# lab (network namespaces, 2001:2::/48), as root. Release build of the host.
#   RUNS=5   runs of the scan (median and worst shown)
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "bench/ipv6.sh: run as root (network namespaces)" >&2; exit 1; }
scripts/setup.sh >&2
cargo build -q --release -p ksocket -p ksocket-lab
bin=target/release/ksocket
echo "binary: $bin ($(stat -c %s "$bin") bytes); date: $(date -u +%Y-%m-%dT%H:%MZ); $(nproc) cores; kernel $(uname -r)"
exec target/release/kst-ipv6 "$bin" "${RUNS:-5}"
