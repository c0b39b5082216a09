"""Discrete-time neuron parameters <-> NIR's continuous-time parameters (forward Euler, as snnTorch does).

NIR describes a leaky membrane by the ODE ``tau dv/dt = (v_leak - v) + r I``. One forward-Euler step of
length ``dt`` gives

    v_t = (1 - dt/tau) v_{t-1} + (r dt / tau) I_t + (dt / tau) v_leak

so a neuromorph layer ``v_t = beta v_{t-1} + x_t`` is exactly the NIR node with

    tau = dt / (1 - beta),   r = tau / dt = 1 / (1 - beta),   v_leak = 0

(the mapping snnTorch's exporter writes; Norse's and snnTorch's importers read ``beta = 1 - dt/tau``).
Reading a NIR node back gives ``beta = 1 - dt/tau`` and an input gain ``g = r dt / tau`` that is 1 for
graphs written this way and is kept as an explicit :class:`~neuromorph.interop.Scale` otherwise.
This is *not* :func:`neuromorph.neurons.decay_from_tau` (``exp(-dt/tau)``, the exact exponential step):
NIR exchange follows the peers' Euler convention so that spikes match theirs.

All arithmetic is done in float64.

>>> tau, r = decay_to_nir(0.9, dt=1e-3)
>>> round(float(tau), 6), round(float(r), 6)
(0.01, 10.0)
>>> beta, gain = nir_to_decay(tau, r, dt=1e-3)
>>> round(float(beta), 12), round(float(gain), 12)
(0.9, 1.0)
"""

from __future__ import annotations

import numpy as np

#: Relative deviation of an input gain from 1 below which no Scale is inserted on import (float32 rounding).
UNIT_GAIN_RTOL = 1e-6


def check_dt(dt: object) -> float:
    """Validate a time step: a finite float > 0.

    >>> check_dt(1e-3)
    0.001
    >>> try:
    ...     check_dt(0)
    ... except ValueError as err:
    ...     print(err)
    dt must be a finite number > 0, got 0
    """
    if isinstance(dt, bool) or not isinstance(dt, (int, float)) or not np.isfinite(dt) or dt <= 0:
        raise ValueError(f"dt must be a finite number > 0, got {dt!r}")
    return float(dt)


def decay_to_nir(beta: np.ndarray | float, dt: float) -> tuple[np.ndarray, np.ndarray]:
    """``(tau, r)`` of the NIR node equal to ``v_t = beta v_{t-1} + x_t``: ``tau = dt/(1-beta)``,
    ``r = 1/(1-beta)``.

    >>> tau, r = decay_to_nir(0.5, dt=1.0)
    >>> float(tau), float(r)
    (2.0, 2.0)
    """
    dt = check_dt(dt)
    beta = np.asarray(beta, dtype=np.float64)
    if not bool(np.all((beta > 0) & (beta < 1))):
        raise ValueError(f"beta must lie strictly between 0 and 1, got {beta.tolist()}")
    tau = dt / (1.0 - beta)
    return tau, tau / dt


def nir_to_decay(tau: np.ndarray | float, r: np.ndarray | float, dt: float) -> tuple[np.ndarray, np.ndarray]:
    """``(beta, gain)`` of one Euler step of ``tau dv/dt = -v + r I``: ``beta = 1 - dt/tau``,
    ``gain = r dt / tau``. Raises when ``beta`` falls outside ``(0, 1)`` (``dt >= tau``).

    >>> beta, gain = nir_to_decay(tau=2.0, r=4.0, dt=1.0)
    >>> float(beta), float(gain)
    (0.5, 2.0)
    """
    dt = check_dt(dt)
    tau = np.asarray(tau, dtype=np.float64)
    r = np.asarray(r, dtype=np.float64)
    if not bool(np.all(np.isfinite(tau) & (tau > 0))):
        raise ValueError(f"tau must be finite and > 0, got {tau.tolist()}")
    beta = 1.0 - dt / tau
    if not bool(np.all((beta > 0) & (beta < 1))):
        raise ValueError(
            f"beta = 1 - dt/tau must lie in (0, 1), got {np.unique(beta).tolist()[:5]} for "
            f"dt={dt} and tau={np.unique(tau).tolist()[:5]}: the time step is not smaller than the "
            "time constant (pass the dt the graph was written with)"
        )
    return beta, r * dt / tau


def is_unit(gain: np.ndarray) -> bool:
    """True when every gain equals 1 up to :data:`UNIT_GAIN_RTOL`.

    >>> is_unit(np.array([1.0, 1.0 + 1e-9])), is_unit(np.array([1.0, 2.0]))
    (True, False)
    """
    return bool(np.all(np.abs(np.asarray(gain, dtype=np.float64) - 1.0) <= UNIT_GAIN_RTOL))
