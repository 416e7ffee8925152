#!/usr/bin/env bash
# controller-test.sh - the controller's tests on SQLite and PostgreSQL: starts a
# throwaway cluster (scripts/pg-cluster.sh), runs `cargo test -p ksocket-controller`
# with KSOCKET_TEST_POSTGRES set to it (port 54329, or the next free one up to +5), stops the cluster whatever happens, and exits
# with the tests' status. Extra arguments go to cargo test.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
dir="$(mktemp -d /tmp/ksocket-pg.XXXXXX)"
chmod 755 "$dir"

cleanup() { bash "$here/pg-cluster.sh" stop "$dir" >/dev/null 2>&1 || true; }
trap cleanup EXIT INT TERM

# Port 54329 (PG_PORT), or the next ones when another cluster holds it.
base="${PG_PORT:-54329}"
url=""
for port in $(seq "$base" $((base + 5))); do
    if url="$(PG_PORT=$port bash "$here/pg-cluster.sh" start "$dir" 2>"$dir.log")"; then
        break
    fi
    url=""
    bash "$here/pg-cluster.sh" stop "$dir" >/dev/null 2>&1 || true
    mkdir -p "$dir" && chmod 755 "$dir"
done
rm -f "$dir.log"
[ -n "$url" ] || { echo "controller-test: no PostgreSQL cluster (ports $base..$((base + 5)))" >&2; exit 2; }
echo "controller-test: PostgreSQL at $url"
cd "$root"
KSOCKET_TEST_POSTGRES="$url" timeout 900 cargo test -p ksocket-controller "$@"
status=$?
echo "controller-test: cargo test exited $status"
exit $status
