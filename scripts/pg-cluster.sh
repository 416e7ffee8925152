#!/usr/bin/env bash
# pg-cluster.sh start|stop DIR - a throwaway PostgreSQL cluster for the controller's
# tests: trust authentication, 127.0.0.1:54329 and a unix socket in DIR only.
#
#   start DIR   initdb DIR/data (as the `postgres` user when run as root: PostgreSQL
#               refuses to run as root), start it, wait, print its URL:
#               postgres://postgres@127.0.0.1:54329/postgres
#   stop DIR    stop it and remove DIR.
#
# Installs nothing: it needs PostgreSQL's server binaries (Debian: `apt-get install -y
# postgresql`, which puts them in /usr/lib/postgresql/VERSION/bin and makes the
# `postgres` user). PG_PORT overrides the port.
set -euo pipefail

PORT="${PG_PORT:-54329}"
say() { printf '[pg-cluster] %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

[ $# -eq 2 ] || die "usage: $0 start|stop DIR"
cmd="$1"
dir="$2"

bindir() {
    local d
    # The newest Debian version first, then PATH.
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
            echo "$d"
            return
        fi
    done
    if command -v pg_ctl >/dev/null && command -v initdb >/dev/null; then
        dirname "$(command -v pg_ctl)"
        return
    fi
    die "no initdb/pg_ctl in /usr/lib/postgresql/*/bin or PATH (apt-get install -y postgresql)"
}

# Runs a PostgreSQL binary as the cluster's owner.
as_owner() {
    if [ "$(id -u)" = 0 ]; then
        if command -v runuser >/dev/null; then
            runuser -u postgres -- "$@"
        else
            su postgres -s /bin/sh -c "$(printf '%q ' "$@")"
        fi
    else
        "$@"
    fi
}

case "$cmd" in
start)
    bin="$(bindir)"
    mkdir -p "$dir"
    dir="$(cd "$dir" && pwd)"
    [ -e "$dir/data" ] && die "$dir/data exists: stop the old cluster first ($0 stop $dir)"
    if [ "$(id -u)" = 0 ]; then
        id postgres >/dev/null 2>&1 || die "no postgres user (apt-get install -y postgresql makes it)"
        chown postgres "$dir"
        # The owner must be able to reach DIR.
        runuser -u postgres -- test -w "$dir" 2>/dev/null \
            || die "the postgres user cannot write $dir (a parent is not traversable); use a DIR under /tmp"
    fi
    mkdir -p "$dir/sock"
    [ "$(id -u)" = 0 ] && chown postgres "$dir/sock"
    say "initdb ($bin) in $dir/data"
    as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --no-sync \
        >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
    touch "$dir/server.log"
    [ "$(id -u)" = 0 ] && chown postgres "$dir/server.log"
    # Without PG_PORT, the first port from 54329 that nothing listens on (another
    # cluster of a developer's may hold 54329).
    if [ -z "${PG_PORT:-}" ]; then
        for p in $(seq 54329 54349); do
            if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then PORT=$p; break; fi
        done
    fi
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $PORT -k $dir/sock -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
        start >&2 || { tail -20 "$dir/server.log" >&2; die "pg_ctl start failed (is port $PORT taken?)"; }
    echo "postgres://postgres@127.0.0.1:$PORT/postgres"
    ;;
stop)
    [ -d "$dir" ] || { say "$dir: nothing to stop"; exit 0; }
    dir="$(cd "$dir" && pwd)"
    if [ -f "$dir/data/postmaster.pid" ]; then
        bin="$(bindir)"
        as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >&2 || say "pg_ctl stop failed"
    fi
    rm -rf "$dir"
    ;;
*)
    die "usage: $0 start|stop DIR"
    ;;
esac
