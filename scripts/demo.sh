#!/usr/bin/env bash
# scripts/demo.sh: set everything up and run ksocket's main job.
# Installs what is missing (scripts/setup.sh), builds the release binary, and runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "demo.sh: run as root (sudo scripts/demo.sh): it installs packages and builds network namespaces" >&2; exit 1; }
scripts/setup.sh
cargo build -q --release -p ksocket
target/release/ksocket version
