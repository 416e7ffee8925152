#!/usr/bin/env bash
# scripts/setup.sh: install everything ksocket's build, tests and benchmarks need on a
# fresh Debian machine (as root; apt and cargo only). Safe to re-run.
#   - the lab and peer tools: iproute2, nftables, ping, tcpdump, arp-scan, nmap, fping,
#     masscan, net-snmp (snmpd, snmp), lldpd, snmpsim (pysnmp: 3DES and AES peers), onesixtyone, GNU time
#   - the SSH lab's peers: OpenSSH's server and client (the tests start their own sshd in
#     lab namespaces; no system sshd is left running) and rpm/rpmbuild (a lab rpm database)
#   - the name lab's servers: dnsmasq (dnsmasq-base: no system service), Samba's nmbd
#     and nmblookup, avahi-daemon, dig (bind9-dnsutils); none is started here (the tests
#     start their own in lab namespaces, on lab addresses only)
#   - the service mode's peers: PostgreSQL (binaries only: no cluster is made or started;
#     the tests make a throwaway one, scripts/pg-cluster.sh) and tinyproxy (not started)
#   - shellcheck (the installer scripts packaging/ksinstall and ksuninstall are checked)
#   - the systemd tests (tests/systemd/run.sh): systemd-container (systemd-nspawn) and
#     debootstrap (the container's root, made by the test when absent)
#   - the static cross toolchain for x86_64/aarch64/armv7 (targets/setup-cross.sh)
#   - rustfmt and clippy for the rustup toolchain, when missing
#   - the IEEE OUI registry (ieee-data) that scripts/refresh-oui.sh --check compares the
#     compiled MAC vendor table with
#   - the SNMP recordings corpus (scripts/fetch-corpus.sh: snmpsim-data from PyPI, pinned
#     by SHA-256, into /var/cache/ksocket-corpus) for the corpus test and bench
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "setup.sh: run as root (sudo scripts/setup.sh)" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive
say() { printf '[setup] %s\n' "$*" >&2; }

PKGS="iproute2 nftables iputils-ping tcpdump arp-scan nmap fping masscan snmpd snmp lldpd snmpsim onesixtyone python3 python3-pip bzip2 time file procps postgresql postgresql-client tinyproxy openssl openssh-server openssh-client rpm shellcheck systemd-container debootstrap dnsmasq-base samba samba-common-bin avahi-daemon bind9-dnsutils ieee-data"
need=""
for p in $PKGS; do dpkg -s "$p" >/dev/null 2>&1 || need="$need $p"; done
if [ -n "$need" ]; then
    say "apt-get install$need"
    apt-get update -q >/tmp/ksocket-setup-apt.log 2>&1 || say "apt-get update reported errors (continuing)"
    # No daemon is started by the packages (tinyproxy would listen on every interface;
    # PostgreSQL would make and start a cluster): the tests start their own, on
    # loopback, and stop them.
    mkdir -p /etc/postgresql-common
    [ -e /etc/postgresql-common/createcluster.conf ] \
        || echo "create_main_cluster = false" >/etc/postgresql-common/createcluster.conf
    made_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d
        made_policy=1
    fi
    apt-get install -y -q --no-install-recommends $need >>/tmp/ksocket-setup-apt.log 2>&1 \
        || { rm -f "$( [ $made_policy = 1 ] && echo /usr/sbin/policy-rc.d)"; tail -20 /tmp/ksocket-setup-apt.log >&2; exit 1; }
    if [ $made_policy = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
    case " $need " in
    *" openssh-server "*)
        # Installed here for the tests only: the machine's own sshd stays off (it would
        # listen on every interface), now and at boot. The tests run theirs in lab
        # namespaces with their own configuration and keys.
        if [ -d /run/systemd/system ]; then
            systemctl disable --now ssh.service ssh.socket >/dev/null 2>&1 || true
        else
            update-rc.d ssh disable >/dev/null 2>&1 || true
        fi
        if [ -f /run/sshd.pid ] && [ "$(readlink "/proc/$(cat /run/sshd.pid)/exe" 2>/dev/null)" = /usr/sbin/sshd ]; then
            kill "$(cat /run/sshd.pid)" 2>/dev/null || true
        fi
        ;;
    esac
    # Samba's and avahi's system services stay off too (they would answer on every
    # interface): the name tests run their own nmbd and avahi-daemon in lab namespaces.
    for svc in smbd nmbd samba-ad-dc avahi-daemon; do
        case " $need " in *" samba "*|*" avahi-daemon "*) ;; *) continue ;; esac
        if [ -d /run/systemd/system ]; then
            systemctl disable --now "$svc.service" >/dev/null 2>&1 || true
            [ "$svc" = avahi-daemon ] && { systemctl disable --now avahi-daemon.socket >/dev/null 2>&1 || true; }
        else
            update-rc.d "$svc" disable >/dev/null 2>&1 || true
        fi
    done
fi
# sshd's privilege separation directory (its path is built in); the SSH lab tests
# make it too.
mkdir -p /run/sshd
# An snmpd, lldpd or sshd already running on this machine (the operator's own, or another
# lab's) is left alone: the tests start their own inside lab namespaces, with their own
# sockets and PID files, and stop them by PID.

if [ -x /opt/ksocket-cross/bin/xcargo ] && [ -f /usr/lib/rustlib/src/rust/library/std/Cargo.toml ]; then
    say "cross toolchain present"
else
    say "installing the cross toolchain (targets/setup-cross.sh)"
    targets/setup-cross.sh >/tmp/ksocket-setup-cross.log 2>&1 || { tail -20 /tmp/ksocket-setup-cross.log >&2; exit 1; }
fi

for c in rustfmt clippy; do
    if ! cargo "${c/rustfmt/fmt}" --version >/dev/null 2>&1; then
        say "rustup component add $c"
        rustup component add "$c"
    fi
done
# The recordings corpus: the corpus test fails under CI without it (and skips elsewhere).
scripts/fetch-corpus.sh || say "could not fetch the SNMP recordings corpus (scripts/fetch-corpus.sh)"
say "ready"
