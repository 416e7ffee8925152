#!/usr/bin/env bash
# bench/oui.sh: the cost of a MAC vendor lookup (platform/src/discover/oui): the time per
# lookup of 50,000 random universal MACs (each inflates one block: the worst case) and of
# the same sorted (blocks reused), the fixed buffers of a Table, and the test process's
# peak RSS before and after (the lookups add only the Table's buffers). Release build.
# Also the size of the compiled table (oui.bin).
set -euo pipefail
cd "$(dirname "$0")/.."
echo "oui.bin: $(stat -c %s platform/src/discover/oui/oui.bin) bytes; $(grep -o 'registry as of [0-9-]*' platform/src/discover/oui/data.rs)"
echo "date: $(date -u +%Y-%m-%dT%H:%MZ); $(nproc) cores; $(uname -m)"
cargo test -q --release -p ksocket --bin ksocket discover::oui::tests::measure_lookups -- --ignored --nocapture 2>&1 | grep -o 'oui: .*'
