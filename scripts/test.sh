#!/usr/bin/env bash
# Runs every test: unit tests of each crate and the end-to-end tests in tests/, which start real
# Temporal dev servers, the Bedrock stand-in and `annapurna` worker processes. Installs what is
# missing first.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
. scripts/env.sh
cargo build --workspace --bins --locked
# The end-to-end tests each run a Temporal server and workers: two at a time suit two cores.
cargo test --workspace --locked -- --test-threads 2
