# Sourced by the scripts: where the cache is, and the tools from it on PATH.
CACHE="${ANNAPURNA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/annapurna}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$CACHE/target}"
export PATH="$CACHE/venv/bin:$PATH"
# Never ask an instance metadata service for credentials or region on a developer machine.
export AWS_EC2_METADATA_DISABLED=true
# CI builds once from a fresh clone: incremental state would only take disk.
if [ -n "${CI:-}" ]; then export CARGO_INCREMENTAL=0; fi
