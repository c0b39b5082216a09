"""``neuromorph doctor``: what this installation runs on.

Prints the Python and torch versions, the torch thread settings, the status of each native library (LIF kernel,
reservoir simulator, LUT scan: ``built`` / ``cached`` / ``not built`` / ``fallback`` and why, with its cache
path) and, for each optional extra of neuromorph, which of its packages are installed. Nothing is compiled or
downloaded.

Example::

    neuromorph doctor
    neuromorph doctor --json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sys
from importlib import metadata
from pathlib import Path

import torch

import neuromorph
from neuromorph.native import libraries

_SELF = "neuromorph"


def _requirement_name(requirement: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    return match.group(1) if match else requirement.strip()


def declared_extras() -> dict[str, list[str]]:
    """``extra -> requirement names``: from the source checkout's pyproject.toml when there is one (it describes
    this code), else from the installed distribution's metadata."""
    pyproject = Path(neuromorph.__file__).resolve().parent.parent / "pyproject.toml"
    if pyproject.is_file():
        try:
            import tomllib
        except ModuleNotFoundError:  # Python 3.10
            tomllib = None  # type: ignore[assignment]
        if tomllib is not None:
            declared = tomllib.loads(pyproject.read_text())["project"].get("optional-dependencies", {})
            return {k: [_requirement_name(r) for r in v] for k, v in declared.items()}
    try:
        dist = metadata.distribution(_SELF)
    except metadata.PackageNotFoundError:
        return {}
    extras: dict[str, list[str]] = {e: [] for e in dist.metadata.get_all("Provides-Extra") or []}
    for req in dist.requires or []:
        found = re.search(r"extra\s*==\s*['\"]([^'\"]+)['\"]", req)
        if found and found.group(1) in extras:
            extras[found.group(1)].append(_requirement_name(req))
    return extras


def installed_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def report() -> dict:
    """Everything ``doctor`` prints, as a dict."""
    extras = {}
    for extra, names in declared_extras().items():
        packages = {n: installed_version(n) for n in names if n != _SELF}
        if packages:
            extras[extra] = packages
    return {
        "neuromorph": neuromorph.__version__,
        "python": f"{platform.python_version()} ({sys.executable})",
        "torch": torch.__version__,
        "cuda": torch.cuda.is_available(),
        "threads": {
            "torch_intra_op": torch.get_num_threads(),
            "torch_inter_op": torch.get_num_interop_threads(),
            "cpu_count": os.cpu_count(),
            "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
        },
        "native_libraries": {library.description: library.status() for library in libraries()},
        "extras": extras,
    }


def format_report(info: dict) -> str:
    threads = info["threads"]
    lines = [
        f"neuromorph {info['neuromorph']}",
        f"python     {info['python']}",
        f"torch      {info['torch']} (CUDA {'available' if info['cuda'] else 'not available'})",
        f"threads    torch intra-op {threads['torch_intra_op']}, inter-op {threads['torch_inter_op']}, "
        f"CPU cores {threads['cpu_count']}, OMP_NUM_THREADS={threads['OMP_NUM_THREADS'] or 'unset'}",
    ]
    for description, status in info["native_libraries"].items():
        cache = f", cache {status['path']}" if status["path"] else ""
        lines.append(f"{description}: {status['state']} ({status['reason']}){cache}")
    lines.append("extras:")
    for extra, packages in info["extras"].items():
        present = sum(v is not None for v in packages.values())
        listed = ", ".join(f"{n} {v}" if v else f"{n} missing" for n, v in packages.items())
        state = "installed" if present == len(packages) else ("partly installed" if present else "not installed")
        lines.append(f"  {extra:<9} {state}: {listed}")
    return "\n".join(lines)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "doctor",
        help="print versions, threads, native library status and installed extras",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    info = report()
    print(json.dumps(info, indent=2) if args.json else format_report(info))
    return 0
