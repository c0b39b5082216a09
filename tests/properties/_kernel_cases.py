"""Hypothesis strategies and helpers shared by the neuron-kernel property tests."""
from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from typing import Iterator

import torch
from hypothesis import strategies as st

from neuromorph.surrogate import ATan, FastSigmoid, Sigmoid, Surrogate, Triangle

DTYPES = (torch.float32, torch.float64)
# one time step's shape [B, ...]: per-neuron parameters take the trailing (feature) dims
STEP_SHAPES = ((1,), (4,), (2, 5), (3, 1), (2, 3, 4))


def surrogates() -> st.SearchStrategy[Surrogate]:
    """The four built-in surrogates with parameters over a wide range (what the compiled kernel supports)."""
    return st.one_of(
        st.builds(ATan, st.floats(0.5, 8.0)),
        st.builds(FastSigmoid, st.floats(0.5, 50.0)),
        st.builds(Triangle, st.floats(0.2, 3.0)),
        st.builds(Sigmoid, st.floats(0.5, 20.0)),
    )


@dataclass
class Case:
    """A random problem: time steps, step shape, dtype, per-neuron or scalar parameters, an RNG seed.

    ``grid`` cases use inputs on a 1/4 grid with beta = 1/2 and threshold 1, so ``v_pre == threshold`` occurs
    exactly and the ``>=`` convention of every backend is exercised, with no rounding anywhere.
    """

    T: int
    step_shape: tuple[int, ...]
    dtype: torch.dtype
    per_neuron: bool
    grid: bool
    seed: int

    def generator(self) -> torch.Generator:
        return torch.Generator().manual_seed(self.seed)

    @property
    def param_shape(self) -> tuple[int, ...]:
        return tuple(self.step_shape[1:]) if self.per_neuron else ()

    def inputs(self, g: torch.Generator, scale: float = 0.9, offset: float = 0.4) -> torch.Tensor:
        x = torch.randn(self.T, *self.step_shape, generator=g, dtype=torch.float64) * scale + offset
        if self.grid:
            x = torch.round(x * 4) / 4
        return x.to(self.dtype).requires_grad_()

    def state(self, g: torch.Generator, zero: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """(leaf, value): a random membrane, or a broadcast zero like a layer's fresh state."""
        if zero:
            leaf = torch.zeros((), dtype=self.dtype, requires_grad=True)
            return leaf, leaf.expand(self.step_shape)
        v = torch.rand(self.step_shape, generator=g, dtype=torch.float64) * 0.6
        if self.grid:
            v = torch.round(v * 4) / 4
        leaf = v.to(self.dtype).requires_grad_()
        return leaf, leaf

    def param(self, g: torch.Generator, low: float, high: float, grid_value: float, grad: bool) -> torch.Tensor:
        if self.grid:
            value = torch.full(self.param_shape, grid_value, dtype=torch.float64)
        else:
            value = torch.rand(self.param_shape, generator=g, dtype=torch.float64) * (high - low) + low
        return value.to(self.dtype).requires_grad_(grad)


def cases(max_T: int = 10, min_dims: int = 1) -> st.SearchStrategy[Case]:
    """Random :class:`Case`; ``min_dims``: fewest dims of one step (layers in single-step mode need 2)."""
    shapes = [shape for shape in STEP_SHAPES if len(shape) >= min_dims]
    return st.builds(Case, T=st.integers(1, max_T), step_shape=st.sampled_from(shapes),
                     dtype=st.sampled_from(DTYPES), per_neuron=st.booleans(), grid=st.booleans(),
                     seed=st.integers(0, 2 ** 31 - 1))


def loss(g: torch.Generator, spikes: torch.Tensor, *states: torch.Tensor) -> torch.Tensor:
    """A random linear functional of the spikes plus linear and quadratic terms of the final states."""
    total = (spikes * torch.randn(spikes.shape, generator=g, dtype=torch.float64).to(spikes.dtype)).sum()
    for s in states:
        w = torch.randn(s.shape, generator=g, dtype=torch.float64).to(s.dtype)
        total = total + (s * w).sum() + 0.3 * (s ** 2).sum()
    return total


def tolerances(dtype: torch.dtype) -> dict[str, float]:
    return {"rtol": 1e-4, "atol": 1e-5} if dtype == torch.float32 else {"rtol": 1e-9, "atol": 1e-10}


def grads(output: torch.Tensor, leaves: list[torch.Tensor]) -> list[torch.Tensor]:
    """Gradients of ``output`` wrt the leaves that require them (zeros where a leaf is unused)."""
    wanted = [leaf for leaf in leaves if leaf.requires_grad]
    return list(torch.autograd.grad(output, wanted, allow_unused=True, materialize_grads=True))


def assert_all_close(name: str, got: list[torch.Tensor], want: list[torch.Tensor], dtype: torch.dtype) -> None:
    assert len(got) == len(want)
    for i, (a, b) in enumerate(zip(got, want)):
        torch.testing.assert_close(a, b, **tolerances(dtype), msg=lambda m, i=i: f"{name}[{i}]: {m}")


@contextlib.contextmanager
def backend(name: str) -> Iterator[None]:
    """Run the fused LIF kernel on ``"native"`` (compiled C++) or ``"torch"`` (torch ops) inside the block.

    ``NEUROMORPH_NATIVE=0`` is the documented switch; ``native.load()`` reads it on every call.
    """
    if name not in ("native", "torch"):
        raise ValueError(f"backend must be 'native' or 'torch', got {name!r}")
    old = os.environ.get("NEUROMORPH_NATIVE")
    os.environ["NEUROMORPH_NATIVE"] = "1" if name == "native" else "0"
    try:
        yield
    finally:
        if old is None:
            del os.environ["NEUROMORPH_NATIVE"]
        else:
            os.environ["NEUROMORPH_NATIVE"] = old


def native_available() -> bool:
    with backend("native"):
        from neuromorph.neurons import native

        return native.load() is not None
