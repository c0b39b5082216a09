"""``neuromorph build``: compile every native library ahead of time (instead of lazily on first use).

The libraries are listed by :func:`neuromorph.native.libraries`: the LIF kernel, the reservoir simulator and
the LUT scan of the compressed index. Example::

    neuromorph build            # compiles once, later runs find them in the cache
    neuromorph build --force    # delete these builds from the cache and compile again

Prints one status line per library (``built``, ``cached`` or ``fallback`` with the reason, and the seconds it
took) followed by its cache path; exits 1 when any library is not available (its torch-ops fallback will be
used).
"""

from __future__ import annotations

import argparse
import shutil

from neuromorph.native import enabled, libraries


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "build",
        help="compile the native C++ libraries ahead of time",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--force", action="store_true", help="remove the cached builds first and compile again")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not enabled():
        for library in libraries():
            print(f"{library.description}: fallback (disabled by NEUROMORPH_NATIVE=0); nothing to build")
        return 1
    available = True
    for library in libraries():
        if args.force and library.build_directory().exists():
            shutil.rmtree(library.build_directory())
        library.load()
        status = library.status()
        print(f"{library.description}: {status['state']} ({status['reason']}, {library.build_seconds:.1f} s)")
        print(f"  cache: {status['path']}")
        available = available and status["state"] in ("built", "cached")
    return 0 if available else 1
