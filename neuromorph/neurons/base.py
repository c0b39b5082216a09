"""Stateful base class for spiking layers and whole-model state helpers.

Layers own their state: it is created lazily from the first input, kept on the layer (``layer.state``),
cleared by :meth:`SpikingModule.reset` and cut from the autograd graph by :meth:`SpikingModule.detach`.
:func:`reset`, :func:`detach` and :func:`set_step_mode` walk the model's submodules — there is no global
registry, so two models never share state.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
from torch import Tensor, nn

STEP_MODES = ("single", "multi")


def _check_step_mode(step_mode: str) -> str:
    if step_mode not in STEP_MODES:
        raise ValueError(f"step_mode must be one of {STEP_MODES}, got {step_mode!r}")
    return step_mode


class SpikingModule(nn.Module):
    """Base for layers that carry a state between calls.

    Subclasses implement ``init_state(like) -> NamedTuple`` (zeros shaped like ``like``, one time step of
    the input; ``like`` must only be used for its shape, dtype and device),
    ``forward_single(x, state) -> (out, state)`` and ``forward_multi(x_seq, state) -> (out_seq, state)``.

    >>> from neuromorph import LIF
    >>> layer = LIF(step_mode="single")
    >>> isinstance(layer, SpikingModule), layer.state is None
    (True, True)
    >>> _ = layer(torch.ones(2, 3))
    >>> layer.state.v.shape
    torch.Size([2, 3])
    """

    def __init__(self, step_mode: str = "multi") -> None:
        super().__init__()
        self.step_mode = _check_step_mode(step_mode)
        self.state: Any = None
        self._backpropagated = False  # set when a backward pass went through this layer's last output

    # -- state management ------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget the state; the next call starts from rest."""
        self.__dict__["state"] = None  # plain attributes: see forward
        self.__dict__["_backpropagated"] = False

    def detach(self) -> None:
        """Keep the state values but cut them from the autograd graph (truncated BPTT)."""
        if self.state is not None:
            self.state = type(self.state)(*(s.detach() if isinstance(s, Tensor) else s for s in self.state))

    def _step_shape(self, x: Tensor) -> torch.Size:
        return x.shape[1:] if self.step_mode == "multi" else x.shape

    def _get_state(self, x: Tensor) -> NamedTuple:
        step_shape = self._step_shape(x)
        if self.state is None:
            return self.init_state(x[0] if self.step_mode == "multi" else x)
        current = self.state[0].shape
        if current != step_shape:
            raise ValueError(
                f"{type(self).__name__}: input step shape {tuple(step_shape)} does not match the stored state "
                f"shape {tuple(current)}; call neuromorph.reset(model) before feeding a new batch shape"
            )
        return self.state

    def forward(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor):
            raise TypeError(f"{type(self).__name__} input must be a torch.Tensor, got {type(x).__name__}")
        if not x.is_floating_point():
            raise TypeError(f"{type(self).__name__} input must be floating point, got dtype {x.dtype}")
        min_dim = 3 if self.step_mode == "multi" else 2
        if x.dim() < min_dim:
            layout = "[T, B, ...]" if self.step_mode == "multi" else "[B, ...]"
            raise ValueError(
                f"{type(self).__name__} in step_mode={self.step_mode!r} expects input {layout} "
                f"with at least {min_dim} dims, got shape {tuple(x.shape)}"
            )
        if self.step_mode == "multi" and x.shape[0] == 0:
            raise ValueError(f"{type(self).__name__} got an empty sequence (T=0, shape {tuple(x.shape)})")
        if (
            self._backpropagated
            and self.state is not None
            and any(isinstance(s, Tensor) and s.grad_fn is not None for s in self.state)
        ):
            raise RuntimeError(
                f"{type(self).__name__}: its stored state belongs to a graph that was already back-propagated; call "
                "neuromorph.reset(model) before the next batch, or neuromorph.detach(model) to continue the same "
                "sequence with truncated BPTT"
            )
        state = self._get_state(x)
        if self.step_mode == "multi":
            out, new_state = self.forward_multi(x, state)
        else:
            out, new_state = self.forward_single(x, state)
        _check_finite(self, new_state)
        # plain attributes (never parameters, buffers or modules): skip nn.Module.__setattr__'s lookups
        self.__dict__["state"] = new_state
        self.__dict__["_backpropagated"] = False
        if out.requires_grad:
            out.register_hook(self._mark_backpropagated)
        return out

    def _mark_backpropagated(self, grad: Tensor) -> None:
        self._backpropagated = True

    # -- to implement ----------------------------------------------------------------------------
    def init_state(self, like: Tensor) -> NamedTuple:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward_single(self, x: Tensor, state: Any) -> tuple[Tensor, Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward_multi(self, x: Tensor, state: Any) -> tuple[Tensor, Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    def extra_repr(self) -> str:
        return f"step_mode={self.step_mode!r}"


_FINITE_MARK = "_neuromorph_checked_finite"


def mark_finite(t: Tensor) -> Tensor:
    """Note on ``t`` that a compiled kernel found every value of it finite while writing it (saves the
    separate ``isfinite`` pass of :func:`_check_finite`); returns ``t``. The mark holds the tensor's version
    counter, so an in-place change voids it (inference-mode tensors have none: they get -1).

    >>> v = mark_finite(torch.zeros(2))
    >>> getattr(v, _FINITE_MARK) == v._version      # valid until v is changed in place
    True
    """
    setattr(t, _FINITE_MARK, -1 if t.is_inference() else t._version)
    return t


def _check_finite(layer: nn.Module, state: Any) -> None:
    """A NaN or infinite input always reaches the membrane (the first state field) and stays there: checking
    the final state catches it at a fraction of the cost of checking every input value (no cost at all when
    the kernel that wrote it already checked it, see :func:`mark_finite`)."""
    v = state[0] if isinstance(state, tuple) and state and isinstance(state[0], Tensor) else None
    if v is None:
        return
    mark = getattr(v, _FINITE_MARK, None)
    if mark is not None and (mark == -1 or mark == v._version):
        return
    if not bool(torch.isfinite(v).all()):
        raise ValueError(
            f"{type(layer).__name__}: the input contains NaN or infinite values (the membrane became "
            "non-finite); check the data and the layer before it"
        )


def _spiking_modules(model: nn.Module) -> list[SpikingModule]:
    """Every :class:`SpikingModule` inside ``model`` (each once), by a plain walk over the children dicts
    (``model.modules()`` also builds every module's qualified name, several times slower)."""
    found, seen, stack = [], set(), [model]
    while stack:
        module = stack.pop()
        if id(module) in seen:
            continue
        seen.add(id(module))
        if isinstance(module, SpikingModule):
            found.append(module)
        stack.extend(child for child in module._modules.values() if child is not None)
    return found


def reset(model: nn.Module) -> None:
    """Reset the state of every :class:`SpikingModule` inside ``model``.

    >>> from neuromorph import LIF
    >>> net = torch.nn.Sequential(torch.nn.Linear(2, 2), LIF())
    >>> _ = net(torch.ones(4, 1, 2))
    >>> reset(net)
    >>> net[1].state is None
    True
    """
    for module in _spiking_modules(model):
        module.reset()


def detach(model: nn.Module) -> None:
    """Detach the state of every :class:`SpikingModule` inside ``model`` from the autograd graph.

    >>> from neuromorph import LIF
    >>> net = torch.nn.Sequential(torch.nn.Linear(2, 2), LIF())
    >>> _ = net(torch.ones(4, 1, 2))
    >>> detach(net)
    >>> net[1].state.v.requires_grad
    False
    """
    for module in _spiking_modules(model):
        module.detach()


def set_step_mode(model: nn.Module, step_mode: str) -> nn.Module:
    """Set ``step_mode`` ("single" or "multi") on every spiking layer of ``model``; resets their state.

    >>> from neuromorph import LIF
    >>> net = set_step_mode(torch.nn.Sequential(torch.nn.Linear(2, 2), LIF()), "single")
    >>> net[1].step_mode, net(torch.ones(1, 2)).shape
    ('single', torch.Size([1, 2]))
    """
    _check_step_mode(step_mode)
    for module in _spiking_modules(model):
        module.step_mode = step_mode
        module.reset()
    return model
