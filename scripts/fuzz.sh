#!/usr/bin/env bash
# scripts/fuzz.sh [SECONDS]: run every fuzz target of ksocket-core for SECONDS each
# (default 30). Installs cargo-fuzz if missing. libFuzzer needs nightly flags: the
# stable toolchain is used with RUSTC_BOOTSTRAP=1.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
secs="${1:-30}"
command -v cargo-fuzz >/dev/null || cargo install -q --locked cargo-fuzz
export RUSTC_BOOTSTRAP=1
for t in $(cargo fuzz list); do
    echo "[fuzz] $t: ${secs}s"
    mkdir -p "corpus/$t"
    log="$(mktemp)"
    if ! cargo fuzz run -O "$t" "corpus/$t" -- -max_total_time="$secs" -max_len=2048 >"$log" 2>&1; then
        tail -40 "$log"
        echo "[fuzz] $t FAILED (crash input under fuzz/artifacts/$t/)"
        exit 1
    fi
    grep -E '^(#[0-9]+ +DONE|Done [0-9]+ runs)' "$log" | tail -1
    rm -f "$log"
done
echo "[fuzz] all targets ran ${secs}s without a crash"
