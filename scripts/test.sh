#!/usr/bin/env bash
# scripts/test.sh: the whole test suite, as CI runs it (.ci/run calls this).
# As root it also runs the lab tests (network namespaces) and installs what is
# missing; as another user the lab tests skip with a message.
#   KSOCKET_SKIP_CROSS=1     skip the ARM builds and qemu runs (quick local loop)
#   KSOCKET_FUZZ_SECONDS=N   fuzz each target N seconds (default 30; 0 skips)
set -euo pipefail
cd "$(dirname "$0")/.."
# Each step says how much disk is left: CI machines can be short of it, and a
# linker that cannot grow its output dies of SIGBUS with no word about why.
step() { printf '\n==== %s   [disk: %s free]\n' "$*" "$(df -h . | awk 'NR==2 {print $4}')"; }
t0=$(date +%s)
# In CI every build is from scratch: incremental caches only cost disk there.
if [ -n "${CI:-}" ]; then export CARGO_INCREMENTAL=0; fi

if [ "$(id -u)" = 0 ]; then
    step "setup (apt packages, cross toolchain)"
    scripts/setup.sh
else
    echo "test.sh: not root: lab tests will skip, setup is not run" >&2
fi

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy -q --workspace --all-targets -- -D warnings

# A throwaway PostgreSQL cluster (loopback only) for the controller's tests and the
# service-mode lab tests on PostgreSQL; removed at the end whatever happens.
if [ "$(id -u)" = 0 ] && [ -z "${KSOCKET_TEST_POSTGRES:-}" ]; then
    step "throwaway PostgreSQL cluster (scripts/pg-cluster.sh)"
    pgdir="$(mktemp -d /tmp/ksocket-pg.XXXXXX)"
    chmod 755 "$pgdir"
    trap 'scripts/pg-cluster.sh stop "$pgdir" >/dev/null 2>&1 || true' EXIT
    KSOCKET_TEST_POSTGRES="$(scripts/pg-cluster.sh start "$pgdir")"
    export KSOCKET_TEST_POSTGRES
fi

step "cargo test (unit, integration, lab; the controller on SQLite and PostgreSQL)"
cargo test -q --workspace 2>&1 | tee /tmp/ksocket-test.log | grep -vE '^$'

# The debug build (several GB) is not used again but for the controller the systemd
# tests connect their agent to; on a CI machine free it for the fuzz and cross builds.
ctl_bin=target/debug/ksocket-controller
if [ -n "${CI:-}" ]; then
    mkdir -p target/keep
    if [ -x "$ctl_bin" ]; then cp "$ctl_bin" target/keep/; fi
    ctl_bin=target/keep/ksocket-controller
    rm -rf target/debug
fi

step "no-alloc core"
scripts/check-core.sh

if [ "$(id -u)" = 0 ]; then
    step "the MAC vendor table is what scripts/refresh-oui.sh makes of ieee-data"
    scripts/refresh-oui.sh --check
fi

if [ "${KSOCKET_FUZZ_SECONDS:-30}" != 0 ]; then
    step "fuzz the core's parsers and the engine (${KSOCKET_FUZZ_SECONDS:-30} s per target)"
    scripts/fuzz.sh "${KSOCKET_FUZZ_SECONDS:-30}"
    if [ -n "${CI:-}" ]; then rm -rf fuzz/target; fi
fi

if [ "${KSOCKET_SKIP_CROSS:-0}" != 1 ]; then
    step "static release binaries + core tests under qemu (aarch64, armv7)"
    targets/build.sh all --test-core
    if [ "$(id -u)" = 0 ]; then
        step "the ARM binaries under qemu scan, walk and sweep a lab like the x86_64 one"
        cargo build -q --release -p ksocket-lab
        ref=target/x86_64-unknown-linux-musl/release/ksocket
        target/release/kst-lab compare "$ref" qemu-arm-static target/armv7-unknown-linux-musleabihf/release/ksocket
        target/release/kst-lab compare "$ref" qemu-aarch64-static target/aarch64-unknown-linux-musl/release/ksocket
        # Issue 15's budget: a scan's peak RSS under 3 MB (2929 KiB) on a /24 with
        # services, and the same on a mostly empty /16. Over it: first run
        # scripts/hot-text.sh (the code layout), then look at the heap.
        step "peak RSS of a scan (the static x86_64 build; budget 3 MB)"
        target/release/kst-lab rss "$ref" 2929
    fi
    step "release packages (scripts/dist.sh: tarballs, Debian packages, SHA256SUMS)"
    scripts/dist.sh all
    if [ "$(id -u)" = 0 ]; then
        step "the packages under a real systemd (tests/systemd/run.sh: booted container)"
        tests/systemd/run.sh --dist dist --controller "$ctl_bin"
    fi
fi

step "done in $(( $(date +%s) - t0 )) s"
