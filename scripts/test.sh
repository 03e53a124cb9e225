#!/usr/bin/env bash
# Runs every test: unit tests of each crate and the end-to-end tests in tests/, which start real
# Temporal dev servers, the Bedrock stand-in and `annapurna` worker processes. Installs what is
# missing first.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
. scripts/env.sh
# The shared cache grows across checkouts; incremental state is the first thing to go when the
# disk runs short (a full disk fails the linker with a bus error).
avail_kib=$(df -Pk "$(dirname "$CARGO_TARGET_DIR")" | awk 'NR == 2 { print $4 }')
if [ "${avail_kib:-0}" -lt $((15 * 1024 * 1024)) ] && [ -d "$CARGO_TARGET_DIR/debug/incremental" ]; then
    echo "test.sh: under 15 GiB free; removing $CARGO_TARGET_DIR/debug/incremental" >&2
    rm -rf "$CARGO_TARGET_DIR/debug/incremental"
fi
cargo build --workspace --bins --locked
# The end-to-end tests each run a Temporal server and workers: two at a time suit two cores.
cargo test --workspace --locked -- --test-threads 2
