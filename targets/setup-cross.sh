#!/usr/bin/env bash
# Copied from the project's shared toolchain recipe (shared/toolchain/setup-cross.sh); keep in step.
# setup-cross.sh - install the ksocket cross toolchain (static musl binaries for
# x86_64 / aarch64 / armv7 Linux) from Debian bookworm apt only, and print the
# environment / cargo config needed.  Run as root.  Safe to re-run.
#
# Route: Debian's rustc-web + cargo-web + rust-web-src (same version, 1.96 from
# bookworm-security at the time of writing) with RUSTC_BOOTSTRAP=1 and
# -Zbuild-std, linked with Debian's musl cross wrappers (musl-dev:arm64/armhf,
# musl-tools) and run under qemu-user-static.  rustup cannot add targets here
# (no network), and rustup has no rust-src, so the rustup toolchain is used
# only for native (x86_64-gnu) development.
#
# Env knobs:
#   KSOCKET_CROSS_PREFIX   install prefix for helper files (default /opt/ksocket-cross)
#   KSOCKET_RUSTWEB_VERSION  exact Debian version of rustc-web/cargo-web/rust-web-src
#                          to install (default: apt candidate of rustc-web)
#   KSOCKET_RUSTWEB_MIN    refuse a rustc-web older than this (default 1.89: the
#                          crate set needs >= 1.87; bookworm main alone has 1.85)
set -euo pipefail

PREFIX="${KSOCKET_CROSS_PREFIX:-/opt/ksocket-cross}"
export DEBIAN_FRONTEND=noninteractive
log() { printf '[setup-cross] %s\n' "$*" >&2; }
die() { printf '[setup-cross] ERROR: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root"
[ "$(dpkg --print-architecture)" = amd64 ] || die "expects an amd64 Debian host"

apt_update() {
    # A stale mirror index for one foreign architecture makes apt-get update
    # exit 100 while the other indexes are fine; tolerate that, the package
    # installs below fail loudly if something we need is really missing.
    if ! apt-get update -q >/tmp/setup-cross-apt-update.log 2>&1; then
        log "apt-get update reported errors (continuing; see /tmp/setup-cross-apt-update.log):"
        grep -E '^(E|W|Err):' /tmp/setup-cross-apt-update.log | head -5 >&2 || true
    fi
}

apt_install() {
    apt-get install -y -q --no-install-recommends --allow-downgrades "$@" >/tmp/setup-cross-apt-install.log 2>&1 || {
        tail -20 /tmp/setup-cross-apt-install.log >&2
        die "apt-get install $* failed"
    }
}

# --- 1. host (amd64) packages --------------------------------------------------
log "apt-get update (amd64)"
apt_update

V="${KSOCKET_RUSTWEB_VERSION:-$(apt-cache policy rustc-web | awk '/Candidate:/ {print $2}')}"
[ -n "$V" ] && [ "$V" != "(none)" ] || die "no rustc-web candidate in apt"
MIN="${KSOCKET_RUSTWEB_MIN:-1.89}"
dpkg --compare-versions "$V" ge "$MIN" \
    || die "rustc-web candidate $V < $MIN (bookworm-security index missing? re-run apt-get update)"
for p in cargo-web rust-web-src; do
    apt-cache madison "$p" | awk -v v="$V" '$3==v {f=1} END {exit !f}' \
        || die "$p version $V not available (rustc-web, cargo-web and rust-web-src must match)"
done
log "installing rustc-web/cargo-web/rust-web-src $V, cross gcc, musl-tools, qemu-user-static"
apt_install \
    "rustc-web=$V" "cargo-web=$V" "rust-web-src=$V" \
    gcc-aarch64-linux-gnu gcc-arm-linux-gnueabihf \
    libc6-dev-arm64-cross libc6-dev-armhf-cross \
    musl-tools qemu-user-static file binutils

# --- 2. musl target sysroots (Debian multiarch, from bookworm main) -----------
for a in arm64 armhf; do
    dpkg --print-foreign-architectures | grep -qx "$a" || { log "dpkg --add-architecture $a"; dpkg --add-architecture "$a"; }
done
if ! dpkg -s musl-dev:arm64 musl-dev:armhf >/dev/null 2>&1; then
    log "apt-get update (arm64, armhf)"
    apt_update
    apt_install musl-dev:arm64 musl-dev:armhf
fi
for f in /usr/bin/aarch64-linux-musl-gcc /usr/bin/arm-linux-musleabihf-gcc /usr/bin/musl-gcc \
         /usr/lib/aarch64-linux-musl/libc.a /usr/lib/arm-linux-musleabihf/libc.a /usr/lib/x86_64-linux-musl/libc.a \
         /usr/lib/rustlib/src/rust/library/std/Cargo.toml /usr/bin/qemu-aarch64-static /usr/bin/qemu-arm-static; do
    [ -e "$f" ] || die "missing $f after install"
done

# --- 3. libunwind.a for the musl targets --------------------------------------
# Rust's std for *-linux-musl links a static "-lunwind" (rustup ships LLVM's in
# self-contained/; build-std does not).  We use GCC's libgcc_eh.a under that
# name.  GCC 12's libgcc_eh (non-ARM) calls glibc's _dl_find_object(), which
# musl lacks, so a small dl_iterate_phdr-based implementation is appended.
mkdir -p "$PREFIX/unwind" "$PREFIX/bin"
cat >"$PREFIX/unwind/dl_find_object.c" <<'EOF'
/* _dl_find_object() for static musl executables (GCC >= 12 libgcc_eh needs it). */
#define _GNU_SOURCE
#include <link.h>
#include <stdint.h>
struct dl_find_object {
    unsigned long long dlfo_flags;
    void *dlfo_map_start, *dlfo_map_end;
    void *dlfo_link_map;
    void *dlfo_eh_frame;
    unsigned long long reserved[7];
};
struct ctx { uintptr_t pc; struct dl_find_object *out; };
static int cb(struct dl_phdr_info *info, size_t size, void *data) {
    struct ctx *c = data;
    uintptr_t lo = UINTPTR_MAX, hi = 0; void *eh = 0; int hit = 0;
    (void)size;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *p = &info->dlpi_phdr[i];
        if (p->p_type == PT_LOAD) {
            uintptr_t s = info->dlpi_addr + p->p_vaddr, e = s + p->p_memsz;
            if (c->pc >= s && c->pc < e) hit = 1;
            if (s < lo) lo = s;
            if (e > hi) hi = e;
        } else if (p->p_type == PT_GNU_EH_FRAME) {
            eh = (void *)(info->dlpi_addr + p->p_vaddr);
        }
    }
    if (!hit) return 0;
    c->out->dlfo_flags = 0;
    c->out->dlfo_map_start = (void *)lo;
    c->out->dlfo_map_end = (void *)hi;
    c->out->dlfo_link_map = 0;
    c->out->dlfo_eh_frame = eh;
    return 1;
}
int _dl_find_object(void *pc, struct dl_find_object *out) {
    struct ctx c = { (uintptr_t)pc, out };
    return dl_iterate_phdr(cb, &c) ? 0 : -1;
}
EOF
mkunwind() { # dir musl-cc gnu-triple-for-libgcc ar
    local dir="$PREFIX/unwind/$1" cc="$2" eh ar="$4" tmp
    eh="$("${3}-gcc" -print-file-name=libgcc_eh.a)"
    [ -f "$eh" ] || die "libgcc_eh.a not found for $3"
    mkdir -p "$dir"; tmp="$(mktemp -d)"
    "$cc" -O2 -fPIC -c "$PREFIX/unwind/dl_find_object.c" -o "$tmp/dl_find_object.o"
    cp "$eh" "$tmp/libunwind.a"
    "$ar" rs "$tmp/libunwind.a" "$tmp/dl_find_object.o" 2>/dev/null
    mv -f "$tmp/libunwind.a" "$dir/libunwind.a"; rm -rf "$tmp"
}
mkunwind x86_64 musl-gcc                 x86_64-linux-gnu      ar
mkunwind aarch64 aarch64-linux-musl-gcc  aarch64-linux-gnu     aarch64-linux-gnu-ar
mkunwind armv7 arm-linux-musleabihf-gcc  arm-linux-gnueabihf   arm-linux-gnueabihf-ar

# libgcc_eh (GCC built for glibc >= 2.34) assumes threads are always active and
# calls pthread_once/pthread_mutex_* through *weak* references; in a static
# musl link nothing else may pull those in, they resolve to NULL and the
# unwinder (panic backtrace, catch_unwind) jumps to address 0.  Force them in.
UFLAGS="-C link-arg=-Wl,-u,pthread_once,-u,pthread_mutex_lock,-u,pthread_mutex_unlock,-u,pthread_key_create,-u,pthread_getspecific,-u,pthread_setspecific"
UTOML='"-C", "link-arg=-Wl,-u,pthread_once,-u,pthread_mutex_lock,-u,pthread_mutex_unlock,-u,pthread_key_create,-u,pthread_getspecific,-u,pthread_setspecific"'

# --- 4. environment + wrapper -------------------------------------------------
cat >"$PREFIX/env.sh" <<EOF
# source me: environment for cross builds with Debian rustc-web + build-std
export RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc RUSTC_BOOTSTRAP=1
export CARGO_TARGET_X86_64_UNKNOWN_LINUX_MUSL_LINKER=musl-gcc
export CARGO_TARGET_X86_64_UNKNOWN_LINUX_MUSL_RUSTFLAGS="-C link-self-contained=no -C relocation-model=static -L $PREFIX/unwind/x86_64 $UFLAGS"
export CC_x86_64_unknown_linux_musl=musl-gcc AR_x86_64_unknown_linux_musl=ar
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER=aarch64-linux-musl-gcc
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_RUSTFLAGS="-C link-self-contained=no -L $PREFIX/unwind/aarch64 $UFLAGS"
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_RUNNER=qemu-aarch64-static
export CC_aarch64_unknown_linux_musl=aarch64-linux-musl-gcc AR_aarch64_unknown_linux_musl=aarch64-linux-gnu-ar
export CARGO_TARGET_ARMV7_UNKNOWN_LINUX_MUSLEABIHF_LINKER=arm-linux-musleabihf-gcc
export CARGO_TARGET_ARMV7_UNKNOWN_LINUX_MUSLEABIHF_RUSTFLAGS="-C link-self-contained=no -L $PREFIX/unwind/armv7 $UFLAGS"
export CARGO_TARGET_ARMV7_UNKNOWN_LINUX_MUSLEABIHF_RUNNER=qemu-arm-static
export CC_armv7_unknown_linux_musleabihf=arm-linux-musleabihf-gcc AR_armv7_unknown_linux_musleabihf=arm-linux-gnueabihf-ar
# glibc alternative (static via crt-static; glibc >= 2.34 has files/dns NSS built in)
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUSTFLAGS="-C target-feature=+crt-static"
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64-static -L /usr/aarch64-linux-gnu"
export CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc AR_aarch64_unknown_linux_gnu=aarch64-linux-gnu-ar
export CARGO_TARGET_ARMV7_UNKNOWN_LINUX_GNUEABIHF_LINKER=arm-linux-gnueabihf-gcc
export CARGO_TARGET_ARMV7_UNKNOWN_LINUX_GNUEABIHF_RUSTFLAGS="-C target-feature=+crt-static"
export CARGO_TARGET_ARMV7_UNKNOWN_LINUX_GNUEABIHF_RUNNER="qemu-arm-static -L /usr/arm-linux-gnueabihf"
export CC_armv7_unknown_linux_gnueabihf=arm-linux-gnueabihf-gcc AR_armv7_unknown_linux_gnueabihf=arm-linux-gnueabihf-ar
EOF

cat >"$PREFIX/bin/xcargo" <<EOF
#!/bin/sh
# xcargo SUBCOMMAND --target TRIPLE [args]: Debian cargo/rustc $V + -Zbuild-std
. "$PREFIX/env.sh"
exec /usr/bin/cargo -Zbuild-std=std,panic_abort "\$@"
EOF
chmod 0755 "$PREFIX/bin/xcargo"

# --- 5. report ----------------------------------------------------------------
log "done. $(/usr/bin/rustc -V) / $(/usr/bin/cargo -V); rustup: $(rustc -V 2>/dev/null || echo n/a)"
cat <<EOF
# ---- ksocket cross toolchain ready ----
# Build (release, static):
#   $PREFIX/bin/xcargo build --release --target aarch64-unknown-linux-musl
#   $PREFIX/bin/xcargo build --release --target armv7-unknown-linux-musleabihf
#   $PREFIX/bin/xcargo build --release --target x86_64-unknown-linux-musl
# Test under qemu-user (runner is set):  $PREFIX/bin/xcargo test --target aarch64-unknown-linux-musl
# Run by hand:  qemu-aarch64-static target/aarch64-unknown-linux-musl/release/BIN
#               qemu-arm-static     target/armv7-unknown-linux-musleabihf/release/BIN
# Or: . $PREFIX/env.sh && /usr/bin/cargo -Zbuild-std=std,panic_abort build --release --target ...
# Equivalent .cargo/config.toml (target tables only affect these targets):
[target.aarch64-unknown-linux-musl]
linker = "aarch64-linux-musl-gcc"
rustflags = ["-C", "link-self-contained=no", "-L", "$PREFIX/unwind/aarch64", $UTOML]
runner = "qemu-aarch64-static"
[target.armv7-unknown-linux-musleabihf]
linker = "arm-linux-musleabihf-gcc"
rustflags = ["-C", "link-self-contained=no", "-L", "$PREFIX/unwind/armv7", $UTOML]
runner = "qemu-arm-static"
[target.x86_64-unknown-linux-musl]
linker = "musl-gcc"
rustflags = ["-C", "link-self-contained=no", "-C", "relocation-model=static", "-L", "$PREFIX/unwind/x86_64", $UTOML]
# plus env: RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1, cargo = /usr/bin/cargo, -Zbuild-std=std,panic_abort
EOF
