#!/usr/bin/env bash
# bench/version.sh: the opening table of docs/performance.md: stripped size of each
# static binary, and wall time / peak RSS of `ksocket version` (median of 11 runs;
# ARM under qemu-user, whose own footprint is included in the RSS figure).
# Needs the binaries of targets/build.sh all.
set -euo pipefail
cd "$(dirname "$0")/.."
printf '| target | stripped size (bytes) | `ksocket version` wall incl. fork+time (ms, median of 11) | peak RSS (KiB) | runs under |\n|---|---|---|---|---|\n'
for a in x86_64:x86_64-unknown-linux-musl: aarch64:aarch64-unknown-linux-musl:qemu-aarch64-static armv7:armv7-unknown-linux-musleabihf:qemu-arm-static; do
    IFS=: read -r arch t q <<<"$a"
    bin=target/$t/release/ksocket
    [ -x "$bin" ] || { echo "| $arch | missing: run targets/build.sh $arch | | | |"; continue; }
    walls=(); rss=0
    for _ in $(seq 11); do
        t0=$EPOCHREALTIME
        out=$( { /usr/bin/time -f '%M' $q "$bin" version >/dev/null; } 2>&1 )
        t1=$EPOCHREALTIME
        walls+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", (b-a)*1000}')")
        [ "$out" -gt "$rss" ] && rss=$out
    done
    med=$(printf '%s\n' "${walls[@]}" | sort -n | sed -n 6p)
    printf '| %s | %s | %s | %s | %s |\n' "$arch" "$(stat -c %s "$bin")" "$med" "$rss" "${q:-native}"
done
