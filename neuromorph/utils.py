"""Small shared helpers: progress bars, argument checks, seeding."""

from __future__ import annotations

import random
import sys
from typing import Iterable, Iterator, TypeVar

import numpy as np
import torch

T = TypeVar("T")


def progress(
    iterable: Iterable[T], desc: str = "", total: int | None = None, enable: bool | None = None, **kwargs
) -> Iterator[T]:
    """Wrap ``iterable`` in a tqdm progress bar written to stderr.

    ``enable=None`` shows the bar when stderr is a terminal or ``NEUROMORPH_PROGRESS=1`` is set.

    >>> sum(progress(range(4), desc="demo", enable=False))
    6
    """
    import os

    from tqdm.auto import tqdm

    if enable is None:
        enable = sys.stderr.isatty() or os.environ.get("NEUROMORPH_PROGRESS") == "1"
    return iter(tqdm(iterable, desc=desc, total=total, disable=not enable, leave=False, dynamic_ncols=True, **kwargs))


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch RNGs.

    >>> seed_everything(3); a = torch.rand(2)
    >>> seed_everything(3); torch.equal(a, torch.rand(2))
    True
    """
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def check_tensor(
    name: str, value: object, *, ndim: int | tuple[int, ...] | None = None, floating: bool = False, finite: bool = False
) -> torch.Tensor:
    """Validate a tensor argument; raise a ``TypeError``/``ValueError`` naming ``name`` otherwise.

    >>> check_tensor("x", torch.ones(2, 3), ndim=2, floating=True).shape
    torch.Size([2, 3])
    >>> try:
    ...     check_tensor("x", torch.tensor([float("nan")]), finite=True)
    ... except ValueError as err:
    ...     print(err)
    x contains NaN or infinite values
    """
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else ndim
        if value.dim() not in allowed:
            raise ValueError(
                f"{name} must have {' or '.join(map(str, allowed))} dimensions, got shape {tuple(value.shape)}"
            )
    if floating and not value.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {value.dtype}")
    if finite and not bool(torch.isfinite(value).all()):
        raise ValueError(f"{name} contains NaN or infinite values")
    return value


def check_positive_int(name: str, value: object) -> int:
    """``value`` if it is a positive int (not a bool); else a ``ValueError`` naming ``name``.

    >>> check_positive_int("epochs", 3)
    3
    >>> try:
    ...     check_positive_int("epochs", True)
    ... except ValueError as err:
    ...     print(err)
    epochs must be a positive int, got True
    """
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def check_bool(name: str, value: object) -> bool:
    """``value`` if it is a bool; else a ``TypeError`` naming ``name`` (``0``/``1`` are not taken for flags).

    >>> check_bool("enabled", False)
    False
    >>> try:
    ...     check_bool("enabled", 1)
    ... except TypeError as err:
    ...     print(err)
    enabled must be a bool, got int
    """
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, got {type(value).__name__}")
    return value


def check_choice(name: str, value: object, choices: tuple[str, ...]) -> str:
    """``value`` if it is one of ``choices``; else a ``ValueError`` naming ``name`` and the choices.

    >>> check_choice("attention", "softmax", ("average", "softmax"))
    'softmax'
    >>> try:
    ...     check_choice("attention", "max", ("average", "softmax"))
    ... except ValueError as err:
    ...     print(err)
    attention must be one of ('average', 'softmax'), got 'max'
    """
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value


def check_non_negative_int(name: str, value: object) -> int:
    """``value`` if it is an int >= 0 (not a bool); else a ``ValueError`` naming ``name``.

    >>> check_non_negative_int("seed", 0)
    0
    >>> try:
    ...     check_non_negative_int("seed", -1)
    ... except ValueError as err:
    ...     print(err)
    seed must be a non-negative int, got -1
    """
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{name} must be a non-negative int, got {value!r}")
    return value


def check_per_head_ints(name: str, values: object, num_heads: int, meaning: str = "") -> tuple[int, ...] | None:
    """``None``, or ``values`` as a tuple of ``num_heads`` non-negative ints (one per attention head, no bools);
    else a ``ValueError`` naming ``name`` (``meaning`` is added to the message, e.g. ``"0 = unlimited"``).

    >>> check_per_head_ints("time_shifts", [0, 1], 2)
    (0, 1)
    >>> try:
    ...     check_per_head_ints("time_shifts", [0, -1], 2)
    ... except ValueError as err:
    ...     print(err)
    time_shifts must be None or 2 non-negative ints (one per head), got [0, -1]
    """
    if values is None:
        return None
    items = tuple(values) if isinstance(values, (list, tuple, range)) else None
    if (
        items is None
        or len(items) != num_heads
        or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in items)
    ):
        extra = f", {meaning}" if meaning else ""
        raise ValueError(f"{name} must be None or {num_heads} non-negative ints (one per head{extra}), got {values!r}")
    return items
