#!/usr/bin/env bash
# targets/build.sh [x86_64|aarch64|armv7|all] [--test-core]
#
# Builds static release binaries of ksocket with Debian's rustc-web + -Zbuild-std and
# the musl cross linkers (installed by targets/setup-cross.sh, as root), checks they
# are static, run (under qemu-user for ARM) and fit the size budget, and prints one
# line per target on standard output: ARCH<TAB>SIZE<TAB>BINARY, the binary being
#   $CARGO_TARGET_DIR/<triple>/release/ksocket   (target/ when the variable is unset)
# scripts/dist.sh makes the release tarballs and Debian packages from them.
# It installs nothing: when something is missing it says exactly what, and how to get it.
#
#   --test-core   also run ksocket-core's unit tests for that target (under qemu on ARM)
#   KSOCKET_SIZE_BUDGET   fail when a stripped binary is larger (bytes; default 4 MiB for
#                         armv7 and aarch64, the small boxes' targets; 5 MiB for x86_64,
#                         whose code is about 30% larger for the same source)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUDGET="${KSOCKET_SIZE_BUDGET:-}"
PREFIX="${KSOCKET_CROSS_PREFIX:-/opt/ksocket-cross}"

die() { printf 'build.sh: %s\n' "$*" >&2; exit 1; }
say() { printf '[build] %s\n' "$*" >&2; }

arch_list=()
test_core=0
for a in "$@"; do
    case "$a" in
        x86_64|aarch64|armv7) arch_list+=("$a") ;;
        all) arch_list+=(x86_64 aarch64 armv7) ;;
        --test-core) test_core=1 ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) die "unknown argument '$a' (x86_64, aarch64, armv7, all, --test-core)" ;;
    esac
done
[ ${#arch_list[@]} -gt 0 ] || arch_list=(x86_64 aarch64 armv7)

triple() {
    case "$1" in
        x86_64) echo x86_64-unknown-linux-musl ;;
        aarch64) echo aarch64-unknown-linux-musl ;;
        armv7) echo armv7-unknown-linux-musleabihf ;;
    esac
}
runner() {
    case "$1" in
        x86_64) echo "" ;;
        aarch64) echo qemu-aarch64-static ;;
        armv7) echo qemu-arm-static ;;
    esac
}
linker() {
    case "$1" in
        x86_64) echo musl-gcc ;;
        aarch64) echo aarch64-linux-musl-gcc ;;
        armv7) echo arm-linux-musleabihf-gcc ;;
    esac
}

# --- what is missing? -----------------------------------------------------------
missing=()
[ -x /usr/bin/rustc ] && [ -x /usr/bin/cargo ] || missing+=("Debian rustc-web/cargo-web (/usr/bin/rustc, /usr/bin/cargo)")
[ -f /usr/lib/rustlib/src/rust/library/std/Cargo.toml ] || missing+=("Debian rust-web-src (std sources for -Zbuild-std)")
command -v file >/dev/null || missing+=("file")
for a in "${arch_list[@]}"; do
    command -v "$(linker "$a")" >/dev/null || missing+=("linker $(linker "$a")")
    [ -f "$PREFIX/unwind/$a/libunwind.a" ] || missing+=("$PREFIX/unwind/$a/libunwind.a")
    r=$(runner "$a"); [ -z "$r" ] || command -v "$r" >/dev/null || missing+=("$r (qemu-user-static)")
done
if [ ${#missing[@]} -gt 0 ]; then
    printf 'build.sh: the cross toolchain is not complete; missing:\n' >&2
    printf '  - %s\n' "${missing[@]}" >&2
    printf 'Install it (as root, Debian packages only, about a minute):\n  sudo targets/setup-cross.sh\n' >&2
    exit 1
fi
rv=$(/usr/bin/rustc -V | awk '{print $2}')
dpkg --compare-versions "${rv%%-*}" ge 1.89 2>/dev/null || die "/usr/bin/rustc is $rv; need >= 1.89 (sudo targets/setup-cross.sh)"

VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
export RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc RUSTC_BOOTSTRAP=1
xcargo() { /usr/bin/cargo --config "targets/$T.toml" -Zbuild-std=std,panic_abort "$@"; }
# Where cargo puts its output: CARGO_TARGET_DIR (relative to this directory, as cargo
# reads it), CARGO_BUILD_TARGET_DIR or build.target-dir, else target/. Cargo says.
TARGET_DIR=$(/usr/bin/cargo metadata -q --no-deps --format-version 1 \
    | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
[ -n "$TARGET_DIR" ] || die "cargo metadata did not give the target directory"

for a in "${arch_list[@]}"; do
    T=$(triple "$a")
    say "$a: cargo build --release --target $T (Debian $(/usr/bin/rustc -V | awk '{print $2}'), build-std)"
    xcargo build -q --release --target "$T" -p ksocket
    bin="$TARGET_DIR/$T/release/ksocket"
    info=$(file -b "$bin")
    size=$(stat -c %s "$bin")
    case "$info" in *"statically linked"*|*"static-pie linked"*) ;; *) die "$a: $bin is not static: $info" ;; esac
    out=$(env -i QEMU_LD_PREFIX=/nonexistent $(runner "$a") "$bin" version) || die "$a: $bin version failed"
    out=${out%%$'\n'*}     # the first line (the second one: the data dates)
    case "$out" in "ksocket $VERSION ($T, release)") ;; *) die "$a: unexpected version output: $out" ;; esac
    say "$a: $size bytes, $info"
    say "$a: runs: $out"
    budget="$BUDGET"
    [ -n "$budget" ] || case "$a" in x86_64) budget=5242880 ;; *) budget=4194304 ;; esac
    [ "$size" -le "$budget" ] || die "$a: $size bytes is over the size budget of $budget bytes"
    printf '%s\t%s\t%s\n' "$a" "$size" "$bin"
    if [ $test_core = 1 ]; then
        say "$a: ksocket-core tests (runner: $(runner "$a"))"
        xcargo test -q --target "$T" -p ksocket-core
    fi
done
