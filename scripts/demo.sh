#!/usr/bin/env bash
# Runs one paper end to end on the embedded defaults: builds annapurna, starts `annapurna dev`
# (Temporal dev server + Web UI, the Bedrock stand-in when no AWS credentials are configured, a
# worker), runs the example paper that ships in examples/papers with progress shown, prints where
# the results are, and stops the stack. State goes to .annapurna/, results to results/.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
. scripts/env.sh
cargo build --bin annapurna --locked
BIN="$CARGO_TARGET_DIR/debug/annapurna"
PAPER="${1:-examples/papers/gated-residual-mlp.md}"

"$BIN" dev >.annapurna-dev.log 2>&1 &
DEV=$!
trap 'kill -TERM $DEV 2>/dev/null; wait $DEV 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do
    grep -q "worker polling" .annapurna-dev.log 2>/dev/null && break
    kill -0 $DEV 2>/dev/null || { cat .annapurna-dev.log; exit 1; }
    sleep 0.5
done
grep -q "worker polling" .annapurna-dev.log || { cat .annapurna-dev.log; echo "annapurna dev did not start" >&2; exit 1; }
grep -A4 "NO AWS CREDENTIALS" .annapurna-dev.log >&2 || true
"$BIN" run "$PAPER" --follow
echo "The stack log is in .annapurna-dev.log; \`$BIN dev\` keeps the Web UI up at http://localhost:8233."
