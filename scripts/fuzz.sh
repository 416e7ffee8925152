#!/usr/bin/env bash
# scripts/fuzz.sh [SECONDS]: run every fuzz target for SECONDS each (default 30).
# Installs cargo-fuzz if missing. libFuzzer needs nightly flags: the stable
# toolchain is used with RUSTC_BOOTSTRAP=1.
# All targets are built first, in one cargo call, so that a build failure (a
# compiler or linker error, a full disk) is told apart from a crash the fuzzer found.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
secs="${1:-30}"
command -v cargo-fuzz >/dev/null || cargo install -q --locked cargo-fuzz
export RUSTC_BOOTSTRAP=1
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
build() { cargo fuzz build -O >"$log" 2>&1; }
if ! build; then
    # A linker killed by a signal (SIGBUS when its output file cannot grow) is the
    # machine, not the code: say how full the disk is and try once more.
    tail -25 "$log"
    echo "[fuzz] build failed; disk: $(df -h . | awk 'NR==2 {print $4 " free of " $2}'); retrying once"
    if ! build; then
        tail -40 "$log"
        echo "[fuzz] BUILD FAILED (not a fuzzing crash)"
        exit 1
    fi
fi
for t in $(cargo fuzz list); do
    echo "[fuzz] $t: ${secs}s"
    mkdir -p "corpus/$t"
    if ! cargo fuzz run -O "$t" "corpus/$t" -- -max_total_time="$secs" -max_len=2048 >"$log" 2>&1; then
        tail -40 "$log"
        if grep -qE '^(==[0-9]+==ERROR|SUMMARY: libFuzzer|.*deadly signal)' "$log"; then
            echo "[fuzz] $t FAILED: a crash, its input under fuzz/artifacts/$t/"
        else
            echo "[fuzz] $t FAILED before fuzzing (see the output above)"
        fi
        exit 1
    fi
    grep -E '^(#[0-9]+ +DONE|Done [0-9]+ runs)' "$log" | tail -1
done
echo "[fuzz] all targets ran ${secs}s without a crash"
