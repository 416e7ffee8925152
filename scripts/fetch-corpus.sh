#!/usr/bin/env bash
# scripts/fetch-corpus.sh: fetch the SNMP recordings corpus (snmpsim-data 1.0.1, the
# Python package of snmpsim's recordings of real devices, BSD-2) for the corpus test
# (platform/tests/snmp_corpus.rs) and `kst-bench --only corpus`. Safe to re-run: does
# nothing when the unpacked copy is present and was made from the pinned wheel.
#
# Where: $KSOCKET_CORPUS if set, else /var/cache/ksocket-corpus as root, else
# ${XDG_CACHE_HOME:-$HOME/.cache}/ksocket-corpus. The wheel is kept there and unpacked
# into x/ (the recordings are then in x/snmpsim_data/data/).
set -euo pipefail
VERSION=1.0.1
WHEEL=snmpsim_data-$VERSION-py3-none-any.whl
SHA256=a209ae9fc6c22696fc824805253181c7a8fa8020322ec50643f087703d5ed8ff
if [ -n "${KSOCKET_CORPUS:-}" ]; then
    dir=$KSOCKET_CORPUS
elif [ "$(id -u)" = 0 ]; then
    dir=/var/cache/ksocket-corpus
else
    dir=${XDG_CACHE_HOME:-$HOME/.cache}/ksocket-corpus
fi
say() { printf '[corpus] %s\n' "$*" >&2; }
mkdir -p "$dir"
ok() { [ -f "$dir/$WHEEL" ] && echo "$SHA256  $dir/$WHEEL" | sha256sum -c --status; }
# Present: unpacked from the pinned wheel (marker), or beside a verified wheel.
if [ -d "$dir/x/snmpsim_data/data" ] \
    && { [ "$(cat "$dir/x/.sha256" 2>/dev/null)" = "$SHA256" ] || ok; }; then
    say "present in $dir"
    exit 0
fi
if ! ok; then
    say "downloading snmpsim-data==$VERSION into $dir"
    rm -f "$dir/$WHEEL"
    python3 -m pip download --no-deps --only-binary=:all: --disable-pip-version-check \
        --dest "$dir" "snmpsim-data==$VERSION" >&2
    ok || { say "$WHEEL: SHA-256 is not $SHA256"; rm -f "$dir/$WHEEL"; exit 1; }
fi
tmp=$(mktemp -d "$dir/x.tmp.XXXXXX")
python3 - "$dir/$WHEEL" "$tmp" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    for n in z.namelist():
        if n.startswith("/") or ".." in n.split("/"):
            sys.exit(f"unsafe path in the wheel: {n}")
    z.extractall(sys.argv[2])
PY
echo "$SHA256" >"$tmp/.sha256"
chmod -R a+rX "$tmp"
rm -rf "$dir/x"
mv "$tmp" "$dir/x"
say "unpacked $(find "$dir/x/snmpsim_data/data" -name '*.snmprec*' | wc -l) recordings into $dir/x/snmpsim_data/data"
