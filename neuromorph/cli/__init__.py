"""The ``neuromorph`` command line.

Each subcommand lives in its own module ``neuromorph.cli.<name>`` exposing ``register(subparsers)``;
the module registers an ``argparse`` sub-parser and sets ``func`` (called with the parsed namespace,
returning an exit code or ``None``).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

SUBCOMMANDS: tuple[str, ...] = ("demo", "compress", "learn", "train", "lm", "lsm", "evolve", "build", "doctor")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="neuromorph",
        description="Spiking neural networks and neuromorphic embedding compression.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        try:
            module = importlib.import_module(f"neuromorph.cli.{name}")
        except ModuleNotFoundError as err:  # a subcommand module not present in this build
            if err.name == f"neuromorph.cli.{name}":
                continue
            raise
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    code = args.func(args)
    return int(code or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
