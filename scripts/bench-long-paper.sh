#!/usr/bin/env bash
# Benchmark: one paper of about 18 million characters (the papers in ../shared/papers
# concatenated) through PaperToCode under `annapurna dev` with the Bedrock stand-in. Prints the
# wall time, the dev process's peak RSS (worker + stand-in) and the history size as the server
# counts it. Scratch state goes to a temporary directory.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
. scripts/env.sh
cargo build --bin annapurna --locked -q
BIN="$CARGO_TARGET_DIR/debug/annapurna"
PAPERS="$(pwd)/../shared/papers"
WORK="$(mktemp -d)"
trap 'kill -TERM $DEV 2>/dev/null || true; wait 2>/dev/null; rm -rf "$WORK"' EXIT
cd "$WORK"
python3 - "$PAPERS" <<'PY'
import glob, sys
d = sys.argv[1]
parts = [open(f, encoding="utf-8").read() for f in sorted(glob.glob(d + "/*.tex") + glob.glob(d + "/*.md")) if not f.endswith("README.md")]
blob, out, n = "\n\n".join(parts), [], 0
while n < 18_000_000:
    out.append(blob); n += len(blob)
open("long-paper.txt", "w").write("Long Concatenated Paper For Stress Tests\n\n" + "\n\n".join(out))
PY
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export TEMPORAL_ADDRESS=127.0.0.1:$PORT ANNAPURNA_DEV__STANDIN_PORT=$((PORT + 1))
"$BIN" dev --port "$PORT" --ui-port $((PORT + 2)) >dev.log 2>&1 &
DEV=$!
for _ in $(seq 1 120); do grep -q "worker polling" dev.log && break; sleep 0.5; done
ID=$("$BIN" paper add long-paper.txt | tail -n 1)
START=$(date +%s.%N)
"$BIN" run "$ID" --follow >result.json 2>/dev/null
END=$(date +%s.%N)
RSS=$(awk '/VmHWM/ {print $2}' /proc/$DEV/status)
SIZE=$(temporal workflow describe --workflow-id "paper/$ID" --output json | python3 -c 'import json,sys; d=json.load(sys.stdin); e=d.get("workflowExecutionInfo", d); print(e["historyLength"], e["historySizeBytes"])')
python3 - "$START" "$END" "$RSS" $SIZE <<'PY'
import json, sys
start, end, rss, events, size = sys.argv[1:6]
r = json.load(open("result.json"))
print(json.dumps({"characters": len(open("long-paper.txt", encoding="utf-8").read()), "chunks": r["chunks"], "outcome": r["outcome"],
                  "wall_s": round(float(end) - float(start), 1), "dev_peak_rss_mb": round(int(rss) / 1024, 1),
                  "history_events": int(events), "history_size_bytes": int(size), "standin": r["standin"]}))
PY
