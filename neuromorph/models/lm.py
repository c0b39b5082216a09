"""What every next-token language model of the package shares: input checks, the causal mask, bits per token on
a held-out id stream, and temperature sampling.

A language model here maps token ids ``x`` ``[B, N]`` (int64, ``N <= context``) to next-token logits ``[B, N, V]``:
``logits[b, t]`` scores ``x[b, t + 1]`` and may depend on ``x[b, :t + 1]`` only (causality).

Bits per token of a stream ``u_0 .. u_{M-1}`` (:func:`bits_per_token`): the stream is cut into consecutive
non-overlapping windows of ``context + 1`` ids sharing one id at the seams (window ``w`` holds
``u[w*context : w*context + context + 1]``); inside each window the model predicts ids ``1 .. context`` from the
ids before them, so every id but the first is scored exactly once::

    bits = (1 / (M - 1)) * sum_i -log2 p(u_i | u_{window start} .. u_{i-1})

A shorter last window is scored with its own length. For a character vocabulary this is bits per character.

Temperature sampling (:func:`generate`): ``p(c) proportional to exp(logit_c / temperature)`` over the last
``context`` ids, one id at a time.

>>> mask = causal_mask(3)
>>> mask.int().tolist()
[[1, 0, 0], [1, 1, 0], [1, 1, 1]]
"""

from __future__ import annotations

import math
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from neuromorph.neurons.base import reset as reset_states
from neuromorph.utils import check_per_head_ints, check_positive_int, check_tensor, progress


def causal_mask(n: int, device: torch.device | str | None = None) -> Tensor:
    """Bool ``[n, n]`` lower-triangular mask: ``mask[t, j]`` is True when position ``t`` may see position ``j``
    (``j <= t``).

    >>> causal_mask(4).sum(dim=1).tolist()
    [1, 2, 3, 4]
    """
    check_positive_int("n", n)
    return torch.ones(n, n, dtype=torch.bool, device=device).tril()


def position_embedding(context: int, dim: int) -> nn.Parameter:
    """A learned ``[context, dim]`` position embedding, initialised from a normal with std 0.02 truncated at
    +-2 (as Spikformer and GPT-2).

    >>> _ = torch.manual_seed(0)
    >>> pos = position_embedding(64, 32)
    >>> tuple(pos.shape), pos.requires_grad, round(float(pos.detach().std()), 2)
    ((64, 32), True, 0.02)
    """
    pos = nn.Parameter(torch.zeros(check_positive_int("context", context), check_positive_int("dim", dim)))
    nn.init.trunc_normal_(pos, std=0.02)
    return pos


def check_head_windows(head_windows: Sequence[int] | None, num_heads: int) -> tuple[int, ...] | None:
    """``None`` or one int ``>= 0`` per head (0 = unlimited), else a ``ValueError`` naming ``head_windows``.

    >>> check_head_windows([2, 0], 2)
    (2, 0)
    """
    return check_per_head_ints("head_windows", head_windows, num_heads, "0 = unlimited")


def head_window_mask(n: int, windows: Sequence[int], device: torch.device | str | None = None) -> Tensor:
    """Bool ``[H, n, n]``: head ``h`` at position ``t`` sees position ``j`` when ``t - w_h < j <= t`` (``w_h = 0``:
    every ``j <= t``, the causal mask).

    >>> head_window_mask(3, (1, 0)).int().tolist()
    [[[1, 0, 0], [0, 1, 0], [0, 0, 1]], [[1, 0, 0], [1, 1, 0], [1, 1, 1]]]
    """
    check_positive_int("n", n)
    pos = torch.arange(n, device=device)
    gap = pos[:, None] - pos[None, :]  # t - j
    width = torch.tensor([w if w > 0 else n for w in windows], device=device)
    return (gap >= 0)[None] & (gap[None] < width[:, None, None])


class CharLMBase(nn.Module):
    """Base of the language models: holds ``vocab_size`` and ``context`` and validates the id input.

    >>> base = CharLMBase(vocab_size=5, context=4)
    >>> base.check_ids(torch.tensor([[0, 4, 2]])).shape
    torch.Size([1, 3])
    >>> base.check_ids(torch.tensor([[1, 5]]))
    Traceback (most recent call last):
    ValueError: x must hold ids in [0, 5), got range [1, 5]
    """

    blocks: nn.ModuleList  # the transformer blocks, set by each model

    def __init__(self, vocab_size: int, context: int) -> None:
        super().__init__()
        self.vocab_size = check_positive_int("vocab_size", vocab_size)
        self.context = check_positive_int("context", context)

    def check_ids(self, x: Tensor) -> Tensor:
        """``x`` as given if it is int64 ``[B, N]`` with ``1 <= N <= context`` and ids in ``[0, vocab_size)``."""
        check_tensor("x", x, ndim=2)
        if x.dtype != torch.long:
            raise TypeError(f"x must hold int64 token ids, got dtype {x.dtype}")
        if not 1 <= x.shape[1] <= self.context:
            raise ValueError(f"x must be [B, N] with 1 <= N <= context={self.context}, got shape {tuple(x.shape)}")
        if x.numel() and (int(x.min()) < 0 or int(x.max()) >= self.vocab_size):
            raise ValueError(f"x must hold ids in [0, {self.vocab_size}), got range [{int(x.min())}, {int(x.max())}]")
        return x


def _check_model(model: nn.Module) -> CharLMBase:
    if not isinstance(model, CharLMBase):
        raise TypeError(f"model must be a language model (neuromorph.models.lm.CharLMBase), got {type(model).__name__}")
    return model


def _check_stream(ids: Tensor) -> Tensor:
    check_tensor("ids", ids, ndim=1)
    if ids.dtype != torch.long:
        raise TypeError(f"ids must hold int64 token ids, got dtype {ids.dtype}")
    if ids.numel() < 2:
        raise ValueError(f"ids must hold at least 2 tokens, got {ids.numel()}")
    return ids


@torch.no_grad()
def bits_per_token(
    model: nn.Module,
    ids: Tensor,
    *,
    batch_size: int = 64,
    show_progress: Optional[bool] = False,
    desc: str = "bits/token",
) -> float:
    """Mean ``-log2 p`` of every id of the stream ``ids`` (``[M]`` int64) but the first, in eval mode (see the
    module docstring for the windowing). Neuron states are reset before every batch.

    A model whose logits are all equal scores ``log2(V)`` bits per token:

    >>> from neuromorph.models.transformer_lm import TransformerCharLM
    >>> uniform = TransformerCharLM(vocab_size=8, context=4, dim=8, depth=1, num_heads=2)
    >>> _ = torch.nn.init.zeros_(uniform.head.weight), torch.nn.init.zeros_(uniform.head.bias)
    >>> round(bits_per_token(uniform, torch.arange(11) % 8), 12)
    3.0
    """
    lm = _check_model(model)
    ids = _check_stream(ids)
    batch_size = check_positive_int("batch_size", batch_size)
    n = lm.context
    starts = list(range(0, ids.numel() - 1, n))
    was_training = lm.training
    lm.eval()
    total_nats, count = 0.0, 0
    batches = [starts[i : i + batch_size] for i in range(0, len(starts), batch_size)]
    for batch in progress(batches, desc=desc, total=len(batches), enable=show_progress):
        full = [s for s in batch if s + n + 1 <= ids.numel()]
        groups = [full] + [[s] for s in batch if s + n + 1 > ids.numel()]  # the short tail window alone
        for group in groups:
            if not group:
                continue
            length = min(n, ids.numel() - 1 - group[0])
            window = torch.stack([ids[s : s + length + 1] for s in group])
            reset_states(lm)
            logits = lm(window[:, :-1])
            total_nats += float(
                F.cross_entropy(
                    logits.reshape(-1, logits.shape[-1]).double(), window[:, 1:].reshape(-1), reduction="sum"
                )
            )
            count += window[:, 1:].numel()
    reset_states(lm)
    lm.train(was_training)
    return total_nats / count / math.log(2)


@torch.no_grad()
def generate(
    model: nn.Module,
    prompt: Tensor,
    length: int,
    *,
    temperature: float = 1.0,
    generator: Optional[torch.Generator] = None,
) -> Tensor:
    """``length`` ids sampled one at a time after ``prompt`` (``[P]`` int64, ``P >= 1``) at ``temperature``
    (> 0; the model sees the last ``context`` ids); returns the ``[length]`` new ids. Runs in eval mode.

    A model whose readout strongly prefers id 3 (longer than its context of 4):

    >>> from neuromorph.models.transformer_lm import TransformerCharLM
    >>> biased = TransformerCharLM(vocab_size=5, context=4, dim=8, depth=1, num_heads=2)
    >>> _ = torch.nn.init.zeros_(biased.head.weight)
    >>> biased.head.bias.data = torch.tensor([0.0, 0.0, 0.0, 30.0, 0.0])
    >>> generate(biased, torch.tensor([1, 2]), 6, generator=torch.Generator().manual_seed(0)).tolist()
    [3, 3, 3, 3, 3, 3]
    """
    lm = _check_model(model)
    check_tensor("prompt", prompt, ndim=1)
    if prompt.dtype != torch.long or prompt.numel() < 1:
        raise ValueError(f"prompt must be a non-empty int64 [P] tensor, got {prompt.dtype} {tuple(prompt.shape)}")
    length = check_positive_int("length", length)
    if (
        isinstance(temperature, bool)
        or not isinstance(temperature, (int, float))
        or not math.isfinite(temperature)
        or temperature <= 0
    ):
        raise ValueError(f"temperature must be a finite number > 0, got {temperature!r}")
    was_training = lm.training
    lm.eval()
    seq = prompt.clone()
    for _ in range(length):
        reset_states(lm)
        logits = lm(seq[-lm.context :].unsqueeze(0))[0, -1].double()
        probs = torch.softmax(logits / temperature, dim=-1)
        seq = torch.cat([seq, torch.multinomial(probs, 1, generator=generator)])
    reset_states(lm)
    lm.train(was_training)
    return seq[prompt.numel() :]


__all__ = [
    "CharLMBase",
    "bits_per_token",
    "causal_mask",
    "check_head_windows",
    "generate",
    "head_window_mask",
    "position_embedding",
]
