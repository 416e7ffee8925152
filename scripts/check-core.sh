#!/usr/bin/env bash
# scripts/check-core.sh: prove ksocket-core is no_std and allocation-free.
#  1. its sources declare #![no_std] and #![forbid(unsafe_code)], and name neither
#     `alloc` nor `std` outside of tests;
#  2. it builds for a bare-metal target with only `core` built (-Zbuild-std=core):
#     there `alloc` does not exist, so neither the crate nor any dependency can use it;
#  3. `cargo tree` lists its normal dependencies, for the record.
set -euo pipefail
cd "$(dirname "$0")/.."
fail() { echo "check-core: $*" >&2; exit 1; }
grep -q '^#!\[no_std\]' core/src/lib.rs || fail "core/src/lib.rs lacks #![no_std]"
grep -q '^#!\[forbid(unsafe_code)\]' core/src/lib.rs || fail "core/src/lib.rs lacks #![forbid(unsafe_code)]"
if hits=$(grep -rnE 'extern crate (alloc|std)|\balloc::|\bstd::' core/src | grep -v '^\S*:[0-9]*:\s*//'); then
    fail "alloc/std named in core/src:
$hits"
fi
echo "[check-core] dependencies of ksocket-core (normal edges):"
cargo tree -q -p ksocket-core -e normal --prefix depth | sed 's/^/  /'
if [ -x /usr/bin/rustc ] && [ -f /usr/lib/rustlib/src/rust/library/core/Cargo.toml ]; then
    echo "[check-core] bare-metal build: thumbv7em-none-eabihf, -Zbuild-std=core (no alloc crate exists there)"
    RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 /usr/bin/cargo build -q --release -p ksocket-core \
        --target thumbv7em-none-eabihf -Zbuild-std=core
    echo "[check-core] OK: ksocket-core builds without alloc"
else
    fail "Debian rustc-web and rust-web-src are needed for the bare-metal build (sudo scripts/setup.sh)"
fi
