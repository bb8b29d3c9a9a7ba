#!/usr/bin/env bash
# The main job on the embedded default: set up (scripts/setup.sh), build the bundled digits CNN
# for the STM32F405 that QEMU emulates, boot it, verify 100 held-out samples over the serial
# port bit for bit against the golden reference, and print the report.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cd examples/digits
../../.venv/bin/mcugen build --board stm32
exec ../../.venv/bin/mcugen verify --board stm32 --emulate "$@"
