"""``neuromorph build``: compile the native LIF kernel ahead of time (instead of lazily on first use).

Example::

    neuromorph build            # compiles once, later runs find it in the cache
    neuromorph build --force    # delete this build from the cache and compile again

Prints the kernel status (``built``, ``cached`` or ``fallback`` with the reason) and the cache path; exits 1
when the kernel is not available (the torch-ops fallback will be used).
"""
from __future__ import annotations

import argparse
import shutil
import time

from neuromorph.neurons import native


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("build", help="compile the native LIF kernel ahead of time", description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--force", action="store_true", help="remove the cached build first and compile again")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not native.enabled():
        print("native LIF kernel: fallback (disabled by NEUROMORPH_NATIVE=0); nothing to build")
        return 1
    if args.force and native.build_directory().exists():
        shutil.rmtree(native.build_directory())
    start = time.perf_counter()
    native.load()
    seconds = time.perf_counter() - start
    status = native.status()
    print(f"native LIF kernel: {status['state']} ({status['reason']}, {seconds:.1f} s)")
    print(f"cache: {status['path']}")
    return 0 if status["state"] in ("built", "cached") else 1
