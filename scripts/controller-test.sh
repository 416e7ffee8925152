#!/usr/bin/env bash
# controller-test.sh - the controller's tests on SQLite and PostgreSQL: starts a
# throwaway cluster (scripts/pg-cluster.sh), runs `cargo test -p ksocket-controller`
# with KSOCKET_TEST_POSTGRES set to it, stops the cluster whatever happens, and exits
# with the tests' status. Extra arguments go to cargo test.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
dir="$(mktemp -d /tmp/ksocket-pg.XXXXXX)"
chmod 755 "$dir"

cleanup() { bash "$here/pg-cluster.sh" stop "$dir" >/dev/null 2>&1 || true; }
trap cleanup EXIT INT TERM

url="$(bash "$here/pg-cluster.sh" start "$dir")" || { echo "controller-test: no PostgreSQL cluster" >&2; exit 2; }
echo "controller-test: PostgreSQL at $url"
cd "$root"
KSOCKET_TEST_POSTGRES="$url" timeout 900 cargo test -p ksocket-controller "$@"
status=$?
echo "controller-test: cargo test exited $status"
exit $status
