#!/usr/bin/env bash
# bench/ssh.sh: `ksocket ssh` against OpenSSH's client (`ssh` run by `xargs -P`), reading
# the same things (os-release, uname, the dpkg and rpm package lists) from the same lab
# hosts, both from inside the lab's scanner namespace, as root.
#   - HOSTS lab hosts (network namespaces kst-bssh-<pid>-*, one switch, 198.18.60.0/24),
#     each with its own OpenSSH sshd (own configuration, one shared Ed25519 host key),
#     one throwaway account kst-ssh-<pid>-0 with an Ed25519 key;
#   - A: ksocket ssh 198.18.60.10-... --parallel P --format jsonl (one key-auth
#     credential file); B: xargs -P P ssh ... with the same commands, one connection
#     per host. Runs alternate A B A B ..., RUNS pairs after one warm-up pair (which
#     also stores the host keys: ksocket's var/known_hosts, OpenSSH's known_hosts);
#   - wall seconds and peak RSS from GNU time (%M: the largest single process, for B
#     the largest of xargs and its ssh children, not their sum), and the peak memory
#     charged to a cgroup holding the whole command (cgroup v2 memory.peak, v1
#     memory.max_usage_in_bytes; page cache included), when the cgroup tree allows it.
# The sshds run on the same cores as the clients: both sides pay for them alike.
# Everything made here (namespaces, the account, the cgroups, the files) is removed on
# exit, also on Ctrl-C.
#   HOSTS=24 PARALLEL=8 RUNS=5
#   HOLD=SECONDS   after the warm-up, print both commands and keep the lab that long
#                  (at most an hour) before measuring, to time them with another tool
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "bench/ssh.sh: run as root (network namespaces, sshd, an account)" >&2; exit 1; }
HOSTS="${HOSTS:-24}"; PARALLEL="${PARALLEL:-8}"; RUNS="${RUNS:-5}"
[ "$HOSTS" -ge 1 ] && [ "$HOSTS" -le 200 ] || { echo "HOSTS: 1 to 200" >&2; exit 1; }
for t in /usr/sbin/sshd ssh ssh-keygen useradd userdel chpasswd ip xargs python3 /usr/bin/time; do
    command -v "$t" >/dev/null || { echo "bench/ssh.sh: $t missing (scripts/setup.sh installs it)" >&2; exit 1; }
done
cargo build -q --release -p ksocket
bin="$PWD/target/release/ksocket"
if [ -x /opt/ksocket-cross/bin/xcargo ] && targets/build.sh x86_64 >/dev/null 2>&1; then
    bin="$PWD/target/x86_64-unknown-linux-musl/release/ksocket"
fi

tag="kst-bssh-$$-"
user="kst-ssh-$$-0"
work="$(mktemp -d /tmp/kst-bench-ssh.XXXXXX)"
chmod 755 "$work"
cg=()
made_user=0
cleanup() {
    set +e
    for n in $(ip netns list | awk '{print $1}' | grep "^$tag"); do
        for p in $(ip netns pids "$n" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
        ip netns del "$n" 2>/dev/null
    done
    for d in "${cg[@]}"; do rmdir "$d" 2>/dev/null; done
    if [ $made_user = 1 ]; then
        for _ in $(seq 50); do userdel "$user" 2>/dev/null && break; sleep 0.1; done
    fi
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

echo "binary: $bin ($(stat -c %s "$bin") bytes; $(file -b "$bin" | cut -d, -f1-2))"
echo "date: $(date -u +%Y-%m-%dT%H:%MZ); $(nproc) cores; kernel $(uname -r); $(ssh -V 2>&1)"
echo "hosts: $HOSTS; parallel: $PARALLEL; pairs of runs: $RUNS (after one warm-up pair)"

# The lab: a switch (bridge in its own namespace), the scanner and the hosts on it.
net=198.18.60
ip netns add "${tag}sw"
ip -n "${tag}sw" link set lo up
ip -n "${tag}sw" link add br0 type bridge
ip -n "${tag}sw" link set br0 type bridge forward_delay 0 stp_state 0
ip -n "${tag}sw" link set br0 up
attach() { # NAME ADDRESS
    ip netns add "$tag$1"
    ip -n "$tag$1" link set lo up
    ip -n "${tag}sw" link add "p$1" type veth peer name eth0 netns "$tag$1"
    ip -n "${tag}sw" link set "p$1" master br0 up
    ip -n "$tag$1" addr add "$2/24" dev eth0
    ip -n "$tag$1" link set eth0 up
}
attach scanner "$net.2"
ips=()
for i in $(seq 0 $((HOSTS - 1))); do
    attach "h$i" "$net.$((10 + i))"
    ips+=("$net.$((10 + i))")
done
last="${ips[$((HOSTS - 1))]}"

# The account, its key, the host key, one sshd per host.
useradd --system --no-create-home --user-group --shell /bin/sh --home-dir "$work/home" "$user"
made_user=1
mkdir -p "$work/home" && chown "$user:$user" "$work/home"
echo "$user:$(head -c 18 /dev/urandom | base64)" | chpasswd
ssh-keygen -q -t ed25519 -N '' -C '' -f "$work/hostkey"
ssh-keygen -q -t ed25519 -N '' -C '' -f "$work/id"
cp "$work/id.pub" "$work/$user.keys" && chmod 644 "$work/$user.keys"
mkdir -p /run/sshd
for i in $(seq 0 $((HOSTS - 1))); do
    cat >"$work/sshd-$i.conf" <<EOF
ListenAddress ${ips[$i]}:22
HostKey $work/hostkey
PidFile none
UsePAM no
StrictModes no
UseDNS no
PasswordAuthentication no
KbdInteractiveAuthentication no
AuthorizedKeysFile $work/%u.keys
MaxStartups 200:30:400
PrintMotd no
LogLevel ERROR
EOF
    ip netns exec "${tag}h$i" /usr/sbin/sshd -D -f "$work/sshd-$i.conf" -E "$work/sshd-$i.log" &
    disown  # killed with its namespace at exit, without a job notice
done
for i in $(seq 0 $((HOSTS - 1))); do
    ok=0
    for _ in $(seq 200); do
        if ip netns exec "${tag}h$i" ss -Hltn | grep -q "${ips[$i]}:22 "; then ok=1; break; fi
        sleep 0.05
    done
    [ $ok = 1 ] || { echo "sshd on ${ips[$i]} did not start: $(cat "$work/sshd-$i.log")" >&2; exit 1; }
done

# ksocket's home: one credential file, the key beside it.
kh="$work/ksocket-home"
mkdir -p "$kh/etc/ksocket/credentials/ssh/_keys"
cp "$work/id" "$kh/etc/ksocket/credentials/ssh/_keys/id" && chmod 600 "$kh/etc/ksocket/credentials/ssh/_keys/id"
printf 'includes = ["%s.0/24"]\n[account]\nusername = "%s"\n[[account.clientKeys]]\nfilename = "_keys/id"\n' \
    "$net" "$user" >"$kh/etc/ksocket/credentials/ssh/10-bench.toml"

# What OpenSSH runs on each host: the collector's commands (docs/records.md).
remote="cat /etc/os-release; uname -n; uname -r; uname -m; uname -s; \
dpkg-query -W -f='\${db:Status-Abbrev}\t\${Package}\t\${Version}\t\${Architecture}\n'; \
rpm -qa --qf '%{NAME}\t%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\t%{ARCH}\n' 2>/dev/null; true"
printf "%s\n" "$remote" >"$work/remote"
printf '%s\n' "${ips[@]}" >"$work/targets"
cat >"$work/a.sh" <<EOF
#!/bin/sh
exec env KSOCKET_HOME="$kh" "$bin" ssh "$net.10-$last" --parallel "$PARALLEL" --format jsonl >"$work/a.out" 2>"$work/a.err"
EOF
cat >"$work/b.sh" <<EOF
#!/bin/sh
exec xargs -P "$PARALLEL" -I{} ssh -F /dev/null -o BatchMode=yes -o UserKnownHostsFile="$work/openssh_known_hosts" \
    -o StrictHostKeyChecking=accept-new -o IdentitiesOnly=yes -o IdentityAgent=none -o ConnectTimeout=5 \
    -i "$work/id" -l "$user" {} "\$(cat "$work/remote")" <"$work/targets" >"$work/b.out" 2>"$work/b.err"
EOF
chmod 755 "$work/a.sh" "$work/b.sh"

# A cgroup per side for the whole command's peak memory, when the tree allows it.
cgv=""
if [ -f /sys/fs/cgroup/cgroup.controllers ] && grep -qw memory /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null; then
    cgv=2; base=/sys/fs/cgroup
elif [ -d /sys/fs/cgroup/memory ] && [ -f /sys/fs/cgroup/memory/memory.max_usage_in_bytes ]; then
    cgv=1; base=/sys/fs/cgroup/memory
fi
if [ -n "$cgv" ]; then
    for s in a b; do
        d="$base/kst-bench-ssh-$$-$s"
        if mkdir "$d" 2>/dev/null; then cg+=("$d"); else cgv=""; fi
    done
fi

# one SIDE: runs it once in the scanner namespace; prints "wall maxrss_kib cgroup_peak_kib exit".
one() {
    local s="$1" peak="-" d="" t
    if [ -n "$cgv" ]; then
        d="$base/kst-bench-ssh-$$-$s"
        if [ "$cgv" = 1 ]; then
            # Charges left by the last run (page cache of its output) go first.
            echo 0 >"$d/memory.force_empty" 2>/dev/null || true
            echo 0 >"$d/memory.max_usage_in_bytes" 2>/dev/null || true
        fi
    fi
    t="$(mktemp "$work/time.XXXXXX")"
    set +e
    if [ -n "$d" ]; then
        # The cgroup must hold the command and everything it starts, GNU time included.
        sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' sh "$d" \
            /usr/bin/time -f '%e %M' -o "$t" ip netns exec "${tag}scanner" "$work/$s.sh"
    else
        /usr/bin/time -f '%e %M' -o "$t" ip netns exec "${tag}scanner" "$work/$s.sh"
    fi
    local rc=$?
    set -e
    if [ -n "$d" ]; then
        if [ "$cgv" = 2 ]; then
            # memory.peak is per cgroup life: a fresh cgroup per run.
            peak=$(( $(cat "$d/memory.peak") / 1024 ))
            rmdir "$d" && mkdir "$d"
        else
            peak=$(( $(cat "$d/memory.max_usage_in_bytes") / 1024 ))
        fi
    fi
    echo "$(tail -1 "$t") $peak $rc"
    rm -f "$t"
}

check() { # Both sides read every host, every time.
    local n
    n=$(grep -c '"ssh":{' "$work/a.out" || true)
    [ "$n" = "$HOSTS" ] || { echo "ksocket read $n of $HOSTS hosts: $(head -c 2000 "$work/a.err")" >&2; exit 1; }
    n=$(grep -c '^ID=' "$work/b.out" || true)
    [ "$n" = "$HOSTS" ] || { echo "OpenSSH read $n of $HOSTS hosts: $(head -c 2000 "$work/b.err")" >&2; exit 1; }
}

one a >/dev/null; one b >/dev/null; check   # warm-up pair: host keys stored
if [ "${HOLD:-0}" -gt 0 ]; then
    echo "holding the lab ${HOLD} s; the two commands, to time with another tool:"
    echo "  A: ip netns exec ${tag}scanner $work/a.sh"
    echo "  B: ip netns exec ${tag}scanner $work/b.sh"
    sleep "$(( HOLD > 3600 ? 3600 : HOLD ))"
fi
: >"$work/results"
for r in $(seq "$RUNS"); do
    echo "a $(one a)" >>"$work/results"; check
    echo "b $(one b)" >>"$work/results"; check
done
pkgs=$(python3 -c 'import json,sys; h=json.loads(open(sys.argv[1]).readline()); print(sum(len(l["items"]) for l in h["ssh"]["packages"]))' "$work/a.out")
echo "packages per host: $pkgs"
python3 - "$work/results" "$HOSTS" "$PARALLEL" "${cgv:-none}" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
hosts, par, cgv = int(sys.argv[2]), sys.argv[3], sys.argv[4]
a = [r for r in rows if r[0] == "a"]
b = [r for r in rows if r[0] == "b"]
bad = [r for r in rows if r[4] != "0"]
if bad:
    print("runs with a non-zero exit:", bad)
def col(rs, i, f=float):
    v = [f(r[i]) for r in rs if r[i] != "-"]
    return v
def fmt(v, unit=""):
    if not v:
        return "-"
    return f"{min(v):g} / {statistics.median(v):g} / {max(v):g}{unit}"
print()
print(f"| {hosts} hosts, {par} at a time | wall s (min / median / max) | peak RSS, largest process (KiB) | peak memory of the whole command, cgroup (KiB) |")
print("|---|---|---|---|")
print(f"| ksocket ssh | {fmt(col(a, 1))} | {fmt(col(a, 2, int))} | {fmt(col(a, 3, int))} |")
print(f"| xargs -P + OpenSSH ssh | {fmt(col(b, 1))} | {fmt(col(b, 2, int))} | {fmt(col(b, 3, int))} |")
ratios = [float(x[1]) / float(y[1]) for x, y in zip(a, b) if float(y[1]) > 0]
if ratios:
    print(f"wall ratio ksocket / OpenSSH, pair by pair: median {statistics.median(ratios):.2f} (min {min(ratios):.2f}, max {max(ratios):.2f})")
print(f"cgroup {cgv}: the most memory charged at once to the cgroup holding the whole command (v1")
print("memory.max_usage_in_bytes, v2 memory.peak): its processes' private memory and the page cache")
print("they first touched, all of them together; pages of binaries and libraries already cached by")
print("others (the warm-up) are not charged again, so it can read below the largest process's RSS.")
PY
