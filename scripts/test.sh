#!/usr/bin/env bash
# Sets up (scripts/setup.sh) and runs the whole test suite: real compilers, real QEMU.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m pytest -q "$@"
