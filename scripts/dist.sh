#!/usr/bin/env bash
# scripts/dist.sh [x86_64|aarch64|armv7|all]...   (default: all)
#
# Release packages from the static binaries targets/build.sh made (run it first), in dist/:
#   ksocket-<version>-linux-<arch>.tar.gz   ksocket-<version>-linux-<arch>/ with bin/ksocket,
#                                           ksinstall, ksuninstall, README.md, LICENSE
#   ksocket_<version>_<debarch>.deb         /opt/ksocket (bin/ksocket, etc/ksocket/ as
#                                           conffiles: what `ksocket init` makes), the
#                                           ksocket user, the service (packaging/deb/)
#   SHA256SUMS                              of every package of this version in dist/
# <arch>: x86_64, aarch64, armv7; <debarch>: amd64, arm64, armhf. The version is the
# workspace's (Cargo.toml). Reproducible: entries sorted, owner root:root, every mtime
# SOURCE_DATE_EPOCH (default: the last commit's time), gzip without name or time.
# Needs: tar, gzip, dpkg-deb, file, and qemu-user-static for the ARM binaries (the
# binary runs `ksocket init` for the package's default files, and `version`).
set -euo pipefail
cd "$(dirname "$0")/.."
export LC_ALL=C
die() { printf 'dist.sh: %s\n' "$*" >&2; exit 1; }
say() { printf '[dist] %s\n' "$*" >&2; }

arch_list=()
for a in "$@"; do
    case "$a" in
        x86_64|aarch64|armv7) arch_list+=("$a") ;;
        all) arch_list+=(x86_64 aarch64 armv7) ;;
        -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
        *) die "unknown argument '$a' (x86_64, aarch64, armv7, all)" ;;
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
debarch() {
    case "$1" in
        x86_64) echo amd64 ;;
        aarch64) echo arm64 ;;
        armv7) echo armhf ;;
    esac
}

for c in tar gzip dpkg-deb file sha256sum; do
    command -v "$c" >/dev/null || die "$c is missing"
done
INSTALLER_DIR=packaging
for f in "$INSTALLER_DIR/ksinstall" "$INSTALLER_DIR/ksuninstall" packaging/deb/postinst \
    packaging/deb/prerm packaging/deb/postrm README.md LICENSE; do
    [ -f "$f" ] || die "$f is missing"
done

VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
[ -n "$VERSION" ] || die "no version in Cargo.toml"
CARGO=cargo
[ -x /usr/bin/cargo ] && CARGO=/usr/bin/cargo
TARGET_DIR=$("$CARGO" metadata -q --no-deps --format-version 1 \
    | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
[ -n "$TARGET_DIR" ] || die "cargo metadata did not give the target directory"
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
    SOURCE_DATE_EPOCH=$(git log -1 --format=%ct 2>/dev/null || echo 0)
fi
export SOURCE_DATE_EPOCH
mkdir -p dist

stage=$(mktemp -d /tmp/ksocket-dist.XXXXXX)
trap 'rm -rf "$stage"' EXIT
umask 022

# Every file and directory of a staged tree: mode normalised (the checkout's umask
# must not leak), mtime SOURCE_DATE_EPOCH.
normalise() {
    chmod -R u+rwX,go+rX,go-w "$1"
    find "$1" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
}

for a in "${arch_list[@]}"; do
    T=$(triple "$a")
    bin="$TARGET_DIR/$T/release/ksocket"
    [ -x "$bin" ] || die "$a: no $bin: run targets/build.sh $a first"
    info=$(file -b "$bin")
    case "$info" in *"statically linked"*|*"static-pie linked"*) ;; *) die "$a: $bin is not static: $info" ;; esac
    r=$(runner "$a")
    via=()
    if [ -n "$r" ]; then
        command -v "$r" >/dev/null || die "$a: $r is missing (qemu-user-static)"
        via=("$r")
    fi
    out=$(env -i "${via[@]}" "$bin" version) || die "$a: $bin version failed"
    out=${out%%$'\n'*}     # the first line (the second one: the data dates)
    case "$out" in "ksocket $VERSION ($T, release)") ;; *) die "$a: $bin says '$out', not ksocket $VERSION ($T, release): rebuild it (targets/build.sh $a)" ;; esac

    # --- the tarball ---------------------------------------------------------
    name="ksocket-$VERSION-linux-$a"
    tdir="$stage/$a-tar/$name"
    mkdir -p "$tdir/bin"
    cp "$bin" "$tdir/bin/ksocket"
    cp "$INSTALLER_DIR/ksinstall" "$INSTALLER_DIR/ksuninstall" README.md LICENSE "$tdir/"
    normalise "$stage/$a-tar"
    chmod 755 "$tdir/bin/ksocket" "$tdir/ksinstall" "$tdir/ksuninstall"
    tar -C "$stage/$a-tar" --sort=name --mtime="@$SOURCE_DATE_EPOCH" --owner=0 --group=0 \
        --numeric-owner --format=gnu -cf - "$name" | gzip -9 -n >"dist/$name.tar.gz.tmp"
    mv "dist/$name.tar.gz.tmp" "dist/$name.tar.gz"
    say "$a: dist/$name.tar.gz ($(stat -c %s "dist/$name.tar.gz") bytes)"

    # --- the Debian package --------------------------------------------------
    da=$(debarch "$a")
    root="$stage/$a-deb"
    home="$root/opt/ksocket"
    mkdir -p "$home/bin" "$root/DEBIAN" "$root/usr/share/doc/ksocket"
    cp "$bin" "$home/bin/ksocket"
    # The default files: ksocket init's own (etc/ksocket/ksocket.toml, the credential
    # templates, var/log/ksocket/), made by this very binary.
    env -i "KSOCKET_HOME=$home" "${via[@]}" "$bin" init >/dev/null \
        || die "$a: ksocket init in the package tree failed"
    if grep -rqF "$stage" "$home/etc"; then die "$a: the staging path leaked into the default files"; fi
    cp LICENSE "$root/usr/share/doc/ksocket/copyright"
    cp README.md "$root/usr/share/doc/ksocket/README.md"
    cp packaging/deb/postinst packaging/deb/prerm packaging/deb/postrm "$root/DEBIAN/"
    # Modes as ksocket init made them (0600 files, 0700 directories under etc/ksocket),
    # but etc/ itself 0755: the user ksocket passes through it to etc/ksocket, its own
    # (as `ksocket service install` leaves a tarball's install).
    chmod go-w -R "$root"
    chmod 755 "$home/etc"
    chmod 755 "$home/bin/ksocket" "$root/DEBIAN/postinst" "$root/DEBIAN/prerm" "$root/DEBIAN/postrm"
    (cd "$root" && find opt/ksocket/etc -type f | sort | sed 's|^|/|') >"$root/DEBIAN/conffiles"
    (cd "$root" && find opt usr -type f | LC_ALL=C sort | xargs md5sum) >"$root/DEBIAN/md5sums"
    size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
    cat >"$root/DEBIAN/control" <<EOF
Package: ksocket
Version: $VERSION
Architecture: $da
Maintainer: ksocket developers <ksocket@example.invalid>
Installed-Size: $size
Section: net
Priority: optional
Homepage: https://example.invalid/ksocket
Description: network discovery and inventory agent
 ksocket finds the hosts of its network segment (ARP, ICMP, neighbour tables),
 reads their details over SNMP and SSH, and reports to its controller over a
 WebSocket it opens itself. One static binary in /opt/ksocket/bin, no
 dependencies; the service runs as the system user ksocket with CAP_NET_RAW only.
EOF
    chmod 644 "$root/DEBIAN/control" "$root/DEBIAN/conffiles" "$root/DEBIAN/md5sums"
    find "$root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
    deb="dist/ksocket_${VERSION}_$da.deb"
    dpkg-deb --root-owner-group -Zxz --build "$root" "$deb.tmp" >/dev/null
    mv "$deb.tmp" "$deb"
    say "$a: $deb ($(stat -c %s "$deb") bytes)"
done

(
    cd dist
    shopt -s nullglob
    pkgs=("ksocket-$VERSION-linux-"*.tar.gz "ksocket_${VERSION}_"*.deb)
    LC_ALL=C sha256sum "${pkgs[@]}" >SHA256SUMS.tmp && mv SHA256SUMS.tmp SHA256SUMS
)
say "dist/SHA256SUMS:"
cat dist/SHA256SUMS
