#!/usr/bin/env bash
# tests/systemd/run.sh [--dist DIR] [--controller PATH]
#
# The release packages under a real systemd (issue 16): a Debian bookworm container
# booted with systemd-nspawn (PID 1 of this machine is not systemd), sharing this
# machine's network namespace, its root an overlay whose upper directory is this run's
# (so the install survives the container's reboot and the cached root stays clean).
# The agent inside connects to a ksocket-controller started here on 127.0.0.1 (TLS,
# with a certificate of a CA made here and put in the container's trust store).
#
#   --dist DIR          the packages (scripts/dist.sh x86_64): DIR/ksocket-<v>-linux-x86_64.tar.gz
#                       and DIR/ksocket_<v>_amd64.deb; default dist/
#   --controller PATH   a ksocket-controller binary; default: cargo build -p ksocket-controller
#   KSOCKET_NSPAWN_CACHE   where the container's root is kept (default /var/cache/ksocket-nspawn)
#   KSOCKET_DEBIAN_MIRROR  the mirror debootstrap uses (default: apt's, from /etc/apt/sources*)
#
# As root only (systemd-nspawn, debootstrap, mount namespaces). Every wait is bounded; the
# container, the controller and the temporary files go whatever happens.
# A && B || fail: fail exits, so C runs only when A or B fails.
# shellcheck disable=SC2015
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO=$PWD
die() { printf 'systemd tests: %s\n' "$*" >&2; exit 1; }
say() { printf '[systemd] %s\n' "$*" >&2; }

DIST=$REPO/dist
CTL=""
while [ $# -gt 0 ]; do
    case "$1" in
        --dist) DIST=$(realpath "$2"); shift 2 ;;
        --controller) CTL=$(realpath "$2"); shift 2 ;;
        -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
        *) die "unknown argument '$1'" ;;
    esac
done
[ "$(id -u)" = 0 ] || die "run as root (systemd-nspawn, debootstrap)"
for c in systemd-nspawn debootstrap nsenter openssl tar sha256sum flock timeout; do
    command -v "$c" >/dev/null || die "$c is missing: scripts/setup.sh installs it"
done
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
TARBALL=$DIST/ksocket-$VERSION-linux-x86_64.tar.gz
DEB=$DIST/ksocket_${VERSION}_amd64.deb
[ -f "$TARBALL" ] && [ -f "$DEB" ] \
    || die "no $TARBALL or $DEB: targets/build.sh x86_64 && scripts/dist.sh x86_64"
if [ -z "$CTL" ]; then
    cargo build -q -p ksocket-controller
    CTL="$(cargo metadata -q --no-deps --format-version 1 \
        | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')/debug/ksocket-controller"
fi
[ -x "$CTL" ] || die "no controller at $CTL"
T0=$(date +%s)

# --- the container's root, cached ---------------------------------------------------
CACHE=${KSOCKET_NSPAWN_CACHE:-/var/cache/ksocket-nspawn}
ROOT=$CACHE/bookworm
# What the root is made of; a root made otherwise (or half made) is made again.
RECIPE="debootstrap --variant=minbase --include=systemd,dbus,systemd-sysv,iproute2,procps bookworm; prepare v1"

apt_mirror() {
    [ -n "${KSOCKET_DEBIAN_MIRROR:-}" ] && { echo "$KSOCKET_DEBIAN_MIRROR"; return; }
    local m
    # deb822 sources: the URIs of the stanza whose Suites include plain "bookworm".
    m=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '
        /^[[:space:]]*$/ { if (suite && uri) { print uri; exit } suite = 0; uri = ""; next }
        /^URIs:/ { uri = $2 }
        /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == "bookworm") suite = 1 }
        END { if (suite && uri) print uri }' | head -1)
    # one-line sources: deb [options] URI bookworm ...
    [ -n "$m" ] || m=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
        | sed -n 's/^deb \(\[[^]]*\] \)\{0,1\}\([^ ]*\) bookworm .*/\2/p' | head -1)
    echo "${m:-http://deb.debian.org/debian}"
}

make_root() {
    local mirror; mirror=$(apt_mirror)
    say "making the container's root in $ROOT (debootstrap bookworm from $mirror; about 90 s)"
    rm -rf "$ROOT" "$ROOT.tmp" "$CACHE/stamp"
    local t
    t=$(date +%s)
    timeout 900 debootstrap --variant=minbase --include=systemd,dbus,systemd-sysv,iproute2,procps \
        bookworm "$ROOT.tmp" "$mirror" >"$CACHE/debootstrap.log" 2>&1 \
        || { tail -20 "$CACHE/debootstrap.log" >&2; die "debootstrap failed (log: $CACHE/debootstrap.log)"; }
    # Nothing in the container asks for a login, waits for a network or starts a
    # timer: the boot ends in state "running" within a second.
    local u
    for u in console-getty.service getty@.service systemd-networkd-wait-online.service \
        apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer e2scrub_all.timer fstrim.timer; do
        ln -sf /dev/null "$ROOT.tmp/etc/systemd/system/$u"
    done
    echo ksocket-test >"$ROOT.tmp/etc/hostname"
    : >"$ROOT.tmp/etc/machine-id"
    rm -rf "$ROOT.tmp/var/cache/apt/archives/"*.deb
    mv "$ROOT.tmp" "$ROOT"
    echo "$RECIPE" >"$CACHE/stamp"
    say "root made in $(( $(date +%s) - t )) s ($(du -sh "$ROOT" | cut -f1))"
}

mkdir -p "$CACHE"
exec 9>"$CACHE/lock"
flock -w 1200 9 || die "$CACHE/lock is held by another run"
if [ "$(cat "$CACHE/stamp" 2>/dev/null)" != "$RECIPE" ] || [ ! -x "$ROOT/lib/systemd/systemd" ]; then
    make_root
else
    say "container root: $ROOT (cached; remove $CACHE/stamp to make it again)"
fi

# --- this run's files; everything goes at the end ----------------------------------
W=$(mktemp -d /var/tmp/kst-systemd.XXXXXX)
chmod 700 "$W"
NSPAWN=""
INIT=""
CTL_PID=""
cleanup() {
    local rc=$?
    set +e
    stop_container
    if [ -n "$CTL_PID" ]; then kill "$CTL_PID" 2>/dev/null; wait "$CTL_PID" 2>/dev/null; fi
    rm -rf "$W"
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the container --------------------------------------------------------------
# boot UPPER: boots the root with UPPER as the overlay's upper directory; sets NSPAWN
# (the systemd-nspawn process) and INIT (the container's PID 1, seen from here).
boot() {
    local upper=$1
    mkdir -p "$upper"
    systemd-nspawn --register=no --keep-unit --quiet -D "$ROOT" --overlay="$ROOT:$upper:/" \
        --bind-ro="$W/dist:/opt/dist" -b --console=passive >>"$W/console.log" 2>&1 &
    NSPAWN=$!
    INIT=""
    for _ in $(seq 100); do
        INIT=$(pgrep -P "$NSPAWN" -x systemd || true)
        [ -n "$INIT" ] && break
        kill -0 "$NSPAWN" 2>/dev/null || { tail -20 "$W/console.log" >&2; die "systemd-nspawn exited"; }
        sleep 0.1
    done
    [ -n "$INIT" ] || { tail -20 "$W/console.log" >&2; die "no systemd in the container after 10 s"; }
    local st=""
    for _ in $(seq 300); do
        st=$(ns systemctl is-system-running 2>/dev/null || true)
        case "$st" in running|degraded) break ;; esac
        sleep 0.1
    done
    case "$st" in
        running) ;;
        degraded) ns systemctl --failed --no-pager >&2 || true; die "the container booted degraded" ;;
        *) tail -20 "$W/console.log" >&2; die "the container is '$st' after 30 s" ;;
    esac
}

# stop_container: a clean shutdown (SIGTERM to systemd-nspawn: poweroff inside), 30 s
# at most, then SIGKILL.
stop_container() {
    [ -n "$NSPAWN" ] || return 0
    kill -TERM "$NSPAWN" 2>/dev/null || true
    for _ in $(seq 300); do kill -0 "$NSPAWN" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$NSPAWN" 2>/dev/null; then
        say "the container did not stop in 30 s: killed"
        kill -KILL "$NSPAWN" 2>/dev/null || true
    fi
    wait "$NSPAWN" 2>/dev/null || true
    NSPAWN=""
    INIT=""
}

# ns CMD...: runs CMD in the container (every namespace of its PID 1), with a clean
# environment, 120 s at most.
ns() {
    timeout -k 5 120 nsenter -t "$INIT" -a env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        HOME=/root LANG=C.UTF-8 "$@"
}

# --- checks -----------------------------------------------------------------------
N=0
pass() { N=$((N + 1)); printf 'ok %d - %s   [%d s]\n' "$N" "$*" "$(( $(date +%s) - T0 ))"; }
fail() {
    printf '\nFAILED: %s\n' "$*" >&2
    if [ -n "$INIT" ]; then
        printf -- '--- journalctl -u ksocket --no-pager -n 50 (in the container)\n' >&2
        ns journalctl -u ksocket --no-pager -n 50 >&2 || true
        printf -- '--- systemctl status ksocket\n' >&2
        ns systemctl status ksocket --no-pager >&2 || true
    fi
    printf -- '--- the controller (last 20 lines)\n' >&2
    tail -20 "$W/controller.log" >&2 || true
    exit 1
}
# run DESC CMD...: runs CMD in the container; its output in $OUT; fails on non-zero.
OUT=""
run() {
    local d=$1; shift
    OUT=$(ns "$@" 2>&1) || { printf '%s\n' "$OUT" >&2; fail "$d: \`$*\` exited non-zero"; }
}
# show: prints $OUT.
show() { printf '%s\n' "$OUT"; }
# has DESC PATTERN: $OUT matches the extended regex PATTERN (one line of it).
has() { grep -qE -- "$2" <<<"$OUT" || { printf '%s\n' "$OUT" >&2; fail "$1: no line matches /$2/"; }; }

P=/opt/ksocket
KS=$P/bin/ksocket
status() { ns "$KS" service status 2>/dev/null || true; }
# wait_status WORD SECONDS
wait_status() {
    local st=""
    for _ in $(seq $(( $2 * 5 ))); do
        st=$(status)
        [ "$st" = "$1" ] && return 0
        sleep 0.2
    done
    fail "service status is '$st', not '$1', after $2 s"
}
main_pid() { ns systemctl show -p MainPID --value ksocket.service; }
# connections: how many times the agent said hello to the controller.
connections() { grep -c "^agent $AGENT: connected (instance" "$W/controller.log" || true; }
# wait_connected N: the agent's Nth connection, and the controller lists it connected.
wait_connected() {
    for _ in $(seq 150); do
        if [ "$(connections)" -ge "$1" ] && "$CTL" agents --data "$W/ctl" --format json 2>/dev/null \
            | python3 -c 'import json,sys; a=[x for x in json.load(sys.stdin) if x["name"]==sys.argv[1]]; sys.exit(0 if a and a[0]["connected"] else 1)' "$AGENT"; then
            return 0
        fi
        sleep 0.2
    done
    fail "the agent's connection number $1 did not reach the controller in 30 s ($(connections) so far)"
}
# files_sum DIR: every file under DIR in the container: path, owner, mode, SHA-256.
files_sum() {
    ns sh -c "cd '$1' && find . -type f -print0 | LC_ALL=C sort -z | xargs -0r stat -c '%n %U:%G %a' && find . -type f -print0 | LC_ALL=C sort -z | xargs -0r sha256sum"
}
# upper_leftovers UPPER: paths named *ksocket* the container made (its overlay's upper
# directory: whatever the tests changed), and the user/group ksocket.
upper_leftovers() {
    (cd "$1" && find . -iname '*ksocket*' ! -path './root/*' ! -path './var/log/journal/*' | LC_ALL=C sort)
    grep -h '^ksocket:' "$1/etc/passwd" "$1/etc/group" "$1/etc/shadow" "$1/etc/gshadow" 2>/dev/null || true
}

# --- the controller on loopback, TLS with a CA the container trusts -----------------
mkdir -p "$W/dist" "$W/ctl" "$W/pki"
cp "$TARBALL" "$DEB" "$W/dist/"
(
    cd "$W/pki"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -subj /CN=ksocket-test-ca -keyout ca.key -out ca.pem 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=127.0.0.1 \
        -keyout server.key -out server.csr 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >ext
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
        -extfile ext -out server.pem 2>/dev/null
) || die "openssl could not make the test certificates"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$CTL" serve --listen "127.0.0.1:$PORT" --data "$W/ctl" --tls-cert "$W/pki/server.pem" \
    --tls-key "$W/pki/server.key" >"$W/controller.log" 2>&1 &
CTL_PID=$!
for _ in $(seq 100); do grep -qs "listening on" "$W/controller.log" && break; sleep 0.1; done
grep -q "listening on" "$W/controller.log" || { cat "$W/controller.log" >&2; die "the controller did not start"; }
AGENT=box1
"$CTL" token create "$AGENT" --data "$W/ctl" | tail -1 >"$W/token"
chmod 600 "$W/token"
say "controller on 127.0.0.1:$PORT (TLS); agent token '$AGENT'"

# trust PATH: the test CA in the container's trust store (what the agent reads).
trust() { ns sh -c 'mkdir -p /etc/ssl/certs && cat >/etc/ssl/certs/ca-certificates.crt' <"$W/pki/ca.pem"; }
# put_token: the token file in the container, 0600 root's.
put_token() { ns sh -c 'umask 077; cat >/root/token' <"$W/token"; }

# the_process: the agent's process (MainPID) runs as the user ksocket with exactly the
# capabilities its unit grants (AmbientCapabilities=, CAP_NET_RAW and at most
# CAP_NET_ADMIN), bounded to them, with no_new_privs.
the_process() {
    local pid uid caps want=0 c bit
    pid=$(main_pid)
    [ -n "$pid" ] && [ "$pid" != 0 ] || fail "no MainPID"
    run "/proc/$pid/status" cat "/proc/$pid/status"
    uid=$(ns id -u ksocket) || fail "no user ksocket"
    [ "$uid" != 0 ] || fail "the user ksocket is root"
    has "process uid" "^Uid:[[:space:]]+${uid}[[:space:]]+${uid}[[:space:]]+${uid}[[:space:]]+${uid}$"
    has "process gid" "^Gid:[[:space:]]+$(ns id -g ksocket)[[:space:]]"
    has "no_new_privs" '^NoNewPrivs:[[:space:]]+1$'
    caps=$(ns systemctl show -p AmbientCapabilities --value ksocket.service)
    for c in $caps; do
        case "$c" in
            cap_net_raw) bit=13 ;;
            cap_net_admin) bit=12 ;;
            *) fail "the unit grants $c (only cap_net_raw, and cap_net_admin if needed)" ;;
        esac
        want=$(( want | (1 << bit) ))
    done
    [ $(( want & (1 << 13) )) != 0 ] || fail "the unit does not grant cap_net_raw (AmbientCapabilities='$caps')"
    want=$(printf '%016x' "$want")
    for c in CapEff CapPrm CapAmb CapBnd; do
        has "$c" "^$c:[[:space:]]+$want$"
    done
    pass "the agent (pid $pid) runs as ksocket (uid $uid), CapEff=CapPrm=CapAmb=CapBnd=$want ($caps), NoNewPrivs"
}

# modes: etc/ is root's and open, etc/ksocket/ and ksocket.toml the agent's and private.
modes() {
    local got
    got=$(ns stat -c '%n %U:%G %a' $P/etc $P/etc/ksocket $P/etc/ksocket/ksocket.toml | tr '\n' ' ')
    [ "$got" = "$P/etc root:root 755 $P/etc/ksocket ksocket:ksocket 700 $P/etc/ksocket/ksocket.toml ksocket:ksocket 600 " ] \
        || fail "modes: $got"
    pass "etc/ root:root 755, etc/ksocket ksocket 700, ksocket.toml ksocket 600"
}

# no_token_leak: the token is in no log and no file that others can read.
no_token_leak() {
    local tok f
    tok=$(cat "$W/token")
    if ns journalctl --no-pager -o cat | grep -qF "$tok"; then fail "the token is in the journal"; fi
    for f in $(ns grep -rlF "$tok" /opt /etc /var /tmp /root 2>/dev/null || true); do
        [ "$f" = /root/token ] && continue
        [ "$(ns stat -c %a "$f")" = 600 ] || fail "$f holds the token and is mode $(ns stat -c %a "$f")"
    done
    pass "the token is in no log, and only in 0600 files"
}

BOX=/root/unpacked
TB=$(basename "$TARBALL")
NAME=${TB%.tar.gz}
# ksinstall_from DIR ARGS...: unpacks DIR/<tarball> (DIR under /opt/dist) and runs its
# ksinstall with ARGS; output in $OUT, exit status in $RC.
RC=0
ksinstall_from() {
    local d=$1; shift
    RC=0
    OUT=$(ns sh -c "rm -rf $BOX && mkdir -p $BOX && tar -C $BOX -xzf $d/$TB && $BOX/$NAME/ksinstall \"\$@\"" \
        ksinstall "$@" 2>&1) || RC=$?
}

# ===== 1. a fresh install from the tarball =====
say "booting the container"
boot "$W/upper1"
pass "the container booted (systemd $(ns systemctl --version | awk 'NR==1 {print $2}'), state running)"
trust
put_token
ksinstall_from /opt/dist --batch --host 127.0.0.1 --port "$PORT" --token-file /root/token
printf '%s\n' "$OUT"
[ "$RC" = 0 ] || fail "ksinstall --batch exited $RC"
pass "ksinstall --batch --host 127.0.0.1 --port $PORT --token-file /root/token"
ns test -x "$KS" && ns test -x "$P/ksuninstall" || fail "no $KS or $P/ksuninstall"
[ "$(status)" = running ] || fail "service status is '$(status)' after the install"
pass "ksocket service status: running"
wait_connected 1
pass "the agent is connected to the controller ($("$CTL" agents --data "$W/ctl" | awk -v a="$AGENT" '$1 == a'))"
[ "$(ns systemctl show -p Type --value ksocket.service)" = notify ] || fail "the unit is not Type=notify"
[ "$(ns systemctl is-enabled ksocket.service)" = enabled ] || fail "the unit is not enabled"
the_process
modes
no_token_leak

# ===== 2. stop, start, restart and their Skip cases =====
run "stop" "$KS" service stop
show
has "stop" '^Stop the service \.+ OK'
[ "$(status)" = stopped ] || fail "status '$(status)' after stop"
pass "service stop: OK, status stopped"
run "stop again" "$KS" service stop
show
has "stop again" '^Stop the service \.+ Skip'
pass "service stop of a stopped service: Skip (exit 0)"
run "start" "$KS" service start
show
has "start" '^Start the service \.+ OK'
[ "$(status)" = running ] || fail "status '$(status)' after start"
wait_connected 2
pass "service start: OK, running, connected again"
run "start again" "$KS" service start
show
has "start again" '^Start the service \.+ Skip'
pass "service start of a running service: Skip (exit 0)"
pid1=$(main_pid)
run "restart" "$KS" service restart
show
has "restart" '^Restart the service \.+ OK'
pid2=$(main_pid)
[ "$(status)" = running ] && [ "$pid2" != "$pid1" ] || fail "restart: status '$(status)', pid $pid1 -> $pid2"
wait_connected 3
pass "service restart: a new process ($pid1 -> $pid2), connected again"
run "stop" "$KS" service stop
show
run "restart of a stopped service" "$KS" service restart
show
has "restart of a stopped service" '^Restart the service \.+ OK'
[ "$(status)" = running ] || fail "restart of a stopped service: status '$(status)'"
wait_connected 4
pass "service restart of a stopped service starts it"

# ===== 3. a reboot of the container =====
ns systemctl reboot || true
rc=0
for _ in $(seq 300); do kill -0 "$NSPAWN" 2>/dev/null || break; sleep 0.1; done
kill -0 "$NSPAWN" 2>/dev/null && fail "the container did not go down in 30 s after systemctl reboot"
wait "$NSPAWN" || rc=$?
NSPAWN=""
INIT=""
# systemd-nspawn ends with 133 when its container asks for a reboot (systemd-nspawn@.service
# restarts it on that code); here the test boots it again on the same upper directory.
[ "$rc" = 133 ] || fail "systemd-nspawn exited $rc after the reboot (133 expected)"
boot "$W/upper1"
wait_status running 30
wait_connected 5
pass "after a reboot of the container (systemctl reboot; nspawn exit 133; booted again) the service runs and is connected"

# ===== 4. an upgrade keeping a changed ksocket.toml and the credential files =====
run "config" "$KS" config loglevel DEBUG
ns sh -c "umask 077; printf 'includes = [\"198.18.0.0/24\"]\n[authData]\ncommunity = \"lab-only\"\n' >$P/etc/ksocket/credentials/snmp/010-lab.toml"
mkdir -p "$W/dist/upgrade" "$W/up"
tar -C "$W/up" -xzf "$TARBALL"
# The "new version": the same binary with bytes after its end (an ELF file runs the
# same), so that the installed file tells which one it is.
printf '\nksocket-upgrade-marker\n' >>"$W/up/$NAME/bin/ksocket"
tar -C "$W/up" -czf "$W/dist/upgrade/$TB" "$NAME"
new_sum=$(sha256sum <"$W/up/$NAME/bin/ksocket" | cut -d' ' -f1)
run "restart" "$KS" service restart
show
wait_connected 6
etc_before=$(files_sum $P/etc/ksocket)
ksinstall_from /opt/dist/upgrade --batch
printf '%s\n' "$OUT"
[ "$RC" = 0 ] || fail "the upgrade (ksinstall --batch over the install) exited $RC"
[ "$(ns sha256sum $KS | cut -d' ' -f1)" = "$new_sum" ] || fail "the upgrade did not put the new binary in place"
etc_after=$(files_sum $P/etc/ksocket)
[ "$etc_before" = "$etc_after" ] || { diff <(echo "$etc_before") <(echo "$etc_after") >&2; fail "the upgrade changed etc/ksocket"; }
run "config" "$KS" config loglevel
[ "$OUT" = DEBUG ] || fail "loglevel is '$OUT' after the upgrade"
[ "$(status)" = running ] || fail "status '$(status)' after the upgrade"
wait_connected 7
pass "upgrade: the new binary runs, connected; etc/ksocket (changed ksocket.toml, a new credential file) identical: owners, modes, contents"

# ===== 5. an upgrade whose binary does not start is rolled back =====
mkdir -p "$W/dist/broken" "$W/br" "$W/dist/good"
tar -C "$W/br" -xzf "$TARBALL"
cp "$W/up/$NAME/bin/ksocket" "$W/dist/good/ksocket"
# A build that cannot run the agent: `connect` exits 1 at once; every other command is
# the good binary's (the installer's own checks pass).
cat >"$W/br/$NAME/bin/ksocket" <<'SH'
#!/bin/sh
if [ "$1" = connect ]; then echo "broken build: connect fails" >&2; exit 1; fi
exec /opt/dist/good/ksocket "$@"
SH
chmod 755 "$W/br/$NAME/bin/ksocket"
tar -C "$W/br" -czf "$W/dist/broken/$TB" "$NAME"
ksinstall_from /opt/dist/broken --batch
printf '%s\n' "$OUT"
[ "$RC" != 0 ] || fail "ksinstall of a binary that cannot start exited 0"
[ "$(ns sha256sum $KS | cut -d' ' -f1)" = "$new_sum" ] || fail "the old binary was not put back"
etc_after=$(files_sum $P/etc/ksocket)
[ "$etc_before" = "$etc_after" ] || { diff <(echo "$etc_before") <(echo "$etc_after") >&2; fail "the failed upgrade changed etc/ksocket"; }
wait_status running 30
wait_connected 8
pass "failed upgrade (exit $RC): the old binary is back, running and connected; etc/ksocket untouched"

# ===== 6. a revoked token: the agent stops for good (exit 3) and is not restarted =====
"$CTL" token revoke "$AGENT" --data "$W/ctl" >/dev/null
wait_status stopped 30
[ "$(ns systemctl show -p ExecMainStatus --value ksocket.service)" = 3 ] \
    || fail "the agent refused for good exited $(ns systemctl show -p ExecMainStatus --value ksocket.service), not 3"
restarts=$(ns systemctl show -p NRestarts --value ksocket.service)
sleep 3 # longer than RestartSec
[ "$(status)" = stopped ] && [ "$(ns systemctl show -p NRestarts --value ksocket.service)" = "$restarts" ] \
    || fail "the agent was restarted after a permanent refusal"
pass "a revoked token: the agent exits 3 and stays stopped (RestartPreventExitStatus)"

# ===== 7. the uninstall =====
rc=0
OUT=$(ns "$P/ksuninstall" </dev/null 2>&1) || rc=$?
[ "$rc" != 0 ] && ns test -x "$KS" && [ "$(status)" = stopped ] \
    || fail "ksuninstall without -y and without a terminal (exit $rc) removed something"
pass "ksuninstall without -y, not on a terminal: refuses (exit $rc), nothing removed"
run "ksuninstall -y" "$P/ksuninstall" -y
printf '%s\n' "$OUT"
has "the reminder" 'etc/ksocket'
ns test ! -e "$P" || fail "$P is still there"
[ "$(ns systemctl show -p LoadState --value ksocket.service)" = not-found ] || fail "the unit is still loaded"
if ns pgrep -u ksocket >/dev/null 2>&1 || ns pgrep -f "$KS" >/dev/null; then fail "an agent process is left"; fi
left=$(upper_leftovers "$W/upper1")
[ -z "$left" ] || { printf '%s\n' "$left" >&2; fail "ksuninstall left these behind"; }
pass "ksuninstall -y: no unit, no process, no file, no user: nothing named ksocket left in the container"
stop_container

# ===== 8. the Debian package: dpkg -i, configure, dpkg -i again, dpkg -r, dpkg -P =====
DEBN=$(basename "$DEB")
boot "$W/upper2"
pass "a fresh container booted"
trust
AGENT=box2
"$CTL" token create "$AGENT" --data "$W/ctl" | tail -1 >"$W/token"
put_token
run "dpkg -i" dpkg -i "/opt/dist/$DEBN"
printf '%s\n' "$OUT"
has "dpkg -i" 'the service is not started until it is$'
[ "$(status)" = missing ] || fail "an unconfigured package started a service ('$(status)')"
ns id ksocket >/dev/null || fail "no user ksocket after dpkg -i"
modes
pass "dpkg -i: installed in $P, user ksocket made, etc/ksocket its own, no service until configured"
run "configure" sh -c "$KS config connect.host 127.0.0.1 && $KS config connect.port $PORT && $KS config connect.token - </root/token && $KS service install"
show
has "service install" '^Restart the service \.+ OK'
wait_status running 30
wait_connected 1
the_process
pass "configured (ksocket config, service install): running and connected"
pid1=$(main_pid)
run "dpkg -i again" dpkg -i "/opt/dist/$DEBN"
show
wait_status running 30
wait_connected 2
[ "$(main_pid)" != "$pid1" ] || fail "dpkg -i over a running install did not restart the agent"
run "config" "$KS" config connect.host
[ "$OUT" = 127.0.0.1 ] || fail "dpkg -i again lost the configuration (connect.host '$OUT')"
pass "dpkg -i over the install: configuration kept (a changed conffile), the agent restarted and connected"
run "dpkg -r" dpkg -r ksocket
show
[ "$(ns systemctl show -p LoadState --value ksocket.service)" = not-found ] || fail "dpkg -r left the unit"
ns test ! -e "$KS" || fail "dpkg -r left the binary"
ns test -f $P/etc/ksocket/ksocket.toml || fail "dpkg -r removed the conffiles"
run "dpkg -s" dpkg -s ksocket
has "dpkg -s" '^Status: deinstall ok config-files'
pass "dpkg -r: service and binary gone; etc/ksocket kept (config-files)"
run "dpkg -P" dpkg -P ksocket
show
left=$(upper_leftovers "$W/upper2")
[ -z "$left" ] || { printf '%s\n' "$left" >&2; fail "dpkg -P left these behind"; }
pass "dpkg -P: nothing named ksocket left, no user"
stop_container
say "all $N checks passed in $(( $(date +%s) - T0 )) s"
