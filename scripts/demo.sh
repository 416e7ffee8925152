#!/usr/bin/env bash
# scripts/demo.sh: set everything up and run ksocket's main job, a scan, in a
# throwaway lab of network namespaces (198.18.0.0/15 only; removed afterwards).
# Installs what is missing (scripts/setup.sh), builds, and runs `kst-lab demo`: scans,
# then the service mode (a local controller, the agent connected to it over wss, a scan
# ordered through the controller and its hosts in the controller's inventory).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "demo.sh: run as root (sudo scripts/demo.sh): it installs packages and builds network namespaces" >&2; exit 1; }
scripts/setup.sh
cargo build -q --release -p ksocket -p ksocket-lab
target/release/ksocket version
cargo build -q --release -p ksocket-controller
exec target/release/kst-lab demo target/release/ksocket target/release/ksocket-controller
