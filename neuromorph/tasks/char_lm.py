"""Character-level language modelling: the spiking transformer LM against its same-size non-spiking twin, trained
for the same wall time on the same batches (``neuromorph lm``).

Training (:func:`train_language_models`): every model gets its own AdamW optimiser and sees the same sequence of
random training windows (``context + 1`` characters; inputs ``w[:-1]``, targets ``w[1:]``); the loss is the mean
next-character cross-entropy over all positions. Learning rate: linear warm-up over ``warmup_steps``, then a
cosine from the model's peak rate (``lr``; ``transformer_lr`` for the non-spiking model when set) to a tenth of it
over the budget's progress ``p`` (``training seconds / wall_s`` or ``step / steps``); gradients clipped to norm 1.

Same wall time under the same load: the models train in one process, in turns of ``turn_s`` seconds of training
each (round-robin), until each has used ``wall_s`` seconds of training time, measured around its own training
steps only (evaluation excluded). Load from other processes therefore falls on both models alike.

The learning curve is the validation bits/char on the first ``curve_chars`` validation characters, taken at
``curve_points`` evenly spaced points of the budget; the final figures are bits/char on the whole validation block
and on the held-out test block (:func:`neuromorph.models.lm.bits_per_token`).

Why not :func:`neuromorph.training.fit`: ``fit`` trains on ``(x, y)`` with one class label per example
(``y`` must be ``[B]``), counts epochs and scores accuracy; next-character prediction has a target per position
(``[B, N]``), a wall-time budget shared by two models in turns, and bits/char as its metric. The step below is
the only training loop here and it is LM-specific.

>>> from neuromorph.data.char_corpus import load_char_corpus
>>> corpus = load_char_corpus(max_chars=6000)
>>> config = LMConfig(dim=16, depth=1, num_heads=2, context=16, batch_size=4, curve_points=2, curve_chars=200)
>>> runs = train_language_models(["transformer"], corpus, config, steps=3, show_progress=False)
>>> runs["transformer"].steps
3
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Optional, Sequence, cast

import torch
import torch.nn.functional as F
from torch import nn

from neuromorph.data.char_corpus import CharCorpus, random_windows
from neuromorph.models.lm import CharLMBase, bits_per_token, generate, head_window_mask
from neuromorph.models.spiking_lm import ATTENTIONS, RESIDUALS, SpikingCharLM
from neuromorph.models.transformer_lm import TransformerCharLM
from neuromorph.utils import check_choice, check_positive_int, progress

LM_MODELS = ("spiking", "transformer")
TURN_STEPS = 10
LABELS = {"spiking": "spiking transformer", "transformer": "non-spiking transformer"}


@dataclass
class LMConfig:
    """Model size and training settings shared by both models. Spiking model only: ``T``, ``scale``,
    ``head_windows``, ``residual``, ``attention`` and ``lif_kwargs`` (overrides of its LIF defaults).
    ``transformer_head_windows``: the non-spiking model's attention windows; ``transformer_lr``: the non-spiking
    model's peak learning rate, ``None`` = ``lr``, so each model can take the rate it was screened at."""

    dim: int = 128
    depth: int = 2
    num_heads: int = 4
    mlp_ratio: float = 4.0
    context: int = 64
    T: int = 2
    scale: float = 2.0
    residual: str = "spikes"
    attention: str = "average"
    lif_kwargs: Optional[dict[str, Any]] = None
    head_windows: Optional[tuple[int, ...]] = None
    transformer_head_windows: Optional[tuple[int, ...]] = None
    batch_size: int = 32
    lr: float = 2e-3
    transformer_lr: Optional[float] = None
    weight_decay: float = 0.01
    warmup_steps: int = 50
    turn_s: float = 5.0
    curve_points: int = 12
    curve_chars: int = 20_000
    eval_batch_size: int = 64

    def __post_init__(self) -> None:
        for name in (
            "dim",
            "depth",
            "num_heads",
            "context",
            "T",
            "batch_size",
            "curve_points",
            "curve_chars",
            "eval_batch_size",
        ):
            check_positive_int(name, getattr(self, name))
        if not isinstance(self.warmup_steps, int) or isinstance(self.warmup_steps, bool) or self.warmup_steps < 0:
            raise ValueError(f"warmup_steps must be an int >= 0, got {self.warmup_steps!r}")
        for name in ("mlp_ratio", "scale", "lr", "transformer_lr", "turn_s"):
            value = getattr(self, name)
            if name == "transformer_lr" and value is None:  # None: the shared lr
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
                raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
        if (
            isinstance(self.weight_decay, bool)
            or not isinstance(self.weight_decay, (int, float))
            or not math.isfinite(self.weight_decay)
            or self.weight_decay < 0
        ):
            raise ValueError(f"weight_decay must be a finite number >= 0, got {self.weight_decay!r}")
        check_choice("residual", self.residual, RESIDUALS)
        check_choice("attention", self.attention, ATTENTIONS)
        if self.lif_kwargs is not None and not isinstance(self.lif_kwargs, dict):
            raise TypeError(f"lif_kwargs must be None or a dict, got {type(self.lif_kwargs).__name__}")

    def peak_lr(self, kind: str) -> float:
        """The peak learning rate of model ``kind``: ``transformer_lr`` (when set) for the non-spiking model,
        ``lr`` otherwise."""
        if kind not in LM_MODELS:
            raise ValueError(f"kind must be one of {LM_MODELS}, got {kind!r}")
        return self.transformer_lr if kind == "transformer" and self.transformer_lr is not None else self.lr


def build_language_model(kind: str, vocab_size: int, config: LMConfig) -> CharLMBase:
    """``"spiking"`` -> :class:`SpikingCharLM`, ``"transformer"`` -> :class:`TransformerCharLM`, sized by
    ``config``."""
    if kind == "spiking":
        return SpikingCharLM(
            vocab_size,
            config.context,
            dim=config.dim,
            depth=config.depth,
            num_heads=config.num_heads,
            mlp_ratio=config.mlp_ratio,
            T=config.T,
            scale=config.scale,
            head_windows=config.head_windows,
            residual=config.residual,
            attention=config.attention,
            lif_kwargs=config.lif_kwargs,
        )
    if kind == "transformer":
        return TransformerCharLM(
            vocab_size,
            config.context,
            dim=config.dim,
            depth=config.depth,
            num_heads=config.num_heads,
            mlp_ratio=config.mlp_ratio,
            head_windows=config.transformer_head_windows,
        )
    raise ValueError(f"model must be one of {LM_MODELS}, got {kind!r}")


@dataclass
class LMRun:
    """One model's training record: ``curve`` rows are ``{"step", "train_s", "valid_bpc"}``."""

    kind: str
    model: CharLMBase
    optimizer: torch.optim.Optimizer
    generator: torch.Generator
    steps: int = 0
    train_s: float = 0.0
    last_loss: float = float("nan")
    curve: list[dict[str, float]] = field(default_factory=list)

    @property
    def parameters(self) -> int:
        return sum(p.numel() for p in self.model.parameters())


def _learning_rate(config: LMConfig, kind: str, step: int, fraction: float) -> float:
    warm = min(1.0, (step + 1) / config.warmup_steps) if config.warmup_steps else 1.0
    cosine = 0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * min(max(fraction, 0.0), 1.0)))
    return config.peak_lr(kind) * warm * cosine


def _train_step(run: LMRun, corpus: CharCorpus, config: LMConfig, fraction: float) -> None:
    window = random_windows(corpus.train, config.batch_size, config.context + 1, run.generator)
    for group in run.optimizer.param_groups:
        group["lr"] = _learning_rate(config, run.kind, run.steps, fraction)
    start = time.perf_counter()
    run.model.train()
    logits = run.model(window[:, :-1])
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), window[:, 1:].reshape(-1))
    if not bool(torch.isfinite(loss)):
        raise ValueError(
            f"non-finite loss {float(loss)} for the {run.kind} model at step {run.steps}; lower the learning rate"
        )
    run.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    nn.utils.clip_grad_norm_(run.model.parameters(), 1.0)
    run.optimizer.step()
    run.train_s += time.perf_counter() - start
    run.steps += 1
    run.last_loss = float(loss.detach())


def train_language_models(
    kinds: Sequence[str],
    corpus: CharCorpus,
    config: LMConfig,
    *,
    wall_s: Optional[float] = None,
    steps: Optional[int] = None,
    seed: int = 0,
    show_progress: Optional[bool] = None,
    log: Optional[Callable[[str], None]] = None,
    build: Callable[[str, int, LMConfig], CharLMBase] = build_language_model,
) -> dict[str, LMRun]:
    """Train each model kind in ``kinds`` for ``wall_s`` seconds of training time or ``steps`` steps (exactly one
    of the two), in turns (module docstring). Models start from the same seed and draw the same batches.
    ``build(kind, vocab_size, config)`` makes each model (a variant of a kind, for ablations)."""
    if (wall_s is None) == (steps is None):
        raise ValueError("give exactly one of wall_s and steps")
    if wall_s is not None and (
        isinstance(wall_s, bool) or not isinstance(wall_s, (int, float)) or not math.isfinite(wall_s) or wall_s <= 0
    ):
        raise ValueError(f"wall_s must be a finite number > 0, got {wall_s!r}")
    if steps is not None:
        check_positive_int("steps", steps)
    if not kinds or len(set(kinds)) != len(kinds) or any(k not in LM_MODELS for k in kinds):
        raise ValueError(f"kinds must be distinct names from {LM_MODELS}, got {list(kinds)!r}")
    if not isinstance(corpus, CharCorpus):
        raise TypeError(f"corpus must be a CharCorpus, got {type(corpus).__name__}")
    runs: dict[str, LMRun] = {}
    for kind in kinds:
        torch.manual_seed(seed)
        model = build(kind, corpus.vocab_size, config)
        opt = torch.optim.AdamW(model.parameters(), lr=config.peak_lr(kind), weight_decay=config.weight_decay)
        runs[kind] = LMRun(kind, model, opt, torch.Generator().manual_seed(seed))
    curve_valid = corpus.valid[: config.curve_chars + 1]
    by_time = wall_s is not None
    budget = float(wall_s if wall_s is not None else cast(int, steps))  # seconds or steps

    def used(run: LMRun) -> float:
        return run.train_s if by_time else float(run.steps)

    def fraction(run: LMRun) -> float:
        return used(run) / budget

    def record(run: LMRun) -> None:
        bpc = bits_per_token(run.model, curve_valid, batch_size=config.eval_batch_size)
        run.curve.append({"step": run.steps, "train_s": run.train_s, "valid_bpc": bpc})
        if log:
            log(
                f"{run.kind:>11}: step {run.steps:6d}  train {run.train_s:7.1f}s  loss {run.last_loss:.3f}  "
                f"valid bits/char ({len(curve_valid) - 1} chars) {bpc:.3f}"
            )

    for run in runs.values():
        record(run)
    marks = {kind: 1 for kind in runs}
    # one round = one turn per model: TURN_STEPS steps, or turn_s seconds of training (at least; the last turn
    # stops at the budget), so ceil(budget / turn) rounds exhaust every budget.
    turn = config.turn_s if by_time else TURN_STEPS
    rounds = math.ceil(budget / turn)
    for _ in progress(range(rounds), desc="lm " + " + ".join(kinds), total=rounds, enable=show_progress):
        for kind, run in runs.items():
            turn_start = used(run)
            while fraction(run) < 1.0 and used(run) - turn_start < turn:
                _train_step(run, corpus, config, fraction(run))
                while marks[kind] < config.curve_points and fraction(run) >= marks[kind] / config.curve_points:
                    record(run)
                    marks[kind] += 1
    for run in runs.values():
        record(run)
    return runs


def ngram_bits_per_char(
    train: torch.Tensor, test: torch.Tensor, order: int, vocab_size: int, alpha: float = 0.1
) -> float:
    """Bits/char on ``test`` of an add-``alpha`` smoothed n-gram model fitted on ``train`` (context of ``order``
    ids; 0 = unigram): ``p(c | h) = (count(h c) + alpha) / (count(h) + alpha V)``, averaged over the test ids
    from position ``order`` on. A reference point for the learned models.

    >>> ids = torch.tensor([0, 1] * 50)
    >>> round(ngram_bits_per_char(ids, ids, 1, 2, alpha=1e-9), 6)
    0.0
    """
    from collections import Counter

    if not isinstance(order, int) or isinstance(order, bool) or order < 0:
        raise ValueError(f"order must be an int >= 0, got {order!r}")
    check_positive_int("vocab_size", vocab_size)
    if not alpha > 0:
        raise ValueError(f"alpha must be > 0, got {alpha!r}")
    a, b = train.tolist(), test.tolist()
    if len(b) <= order:
        raise ValueError(f"test must hold more than order={order} ids, got {len(b)}")
    joint: Counter = Counter(tuple(a[i - order : i + 1]) for i in range(order, len(a)))
    context: Counter = Counter(tuple(a[i - order : i]) for i in range(order, len(a)))
    bits = sum(
        -math.log2(
            (joint[tuple(b[i - order : i + 1])] + alpha) / (context[tuple(b[i - order : i])] + alpha * vocab_size)
        )
        for i in range(order, len(b))
    )
    return bits / (len(b) - order)


def efficiency(model: CharLMBase, windows: torch.Tensor, batch_size: int = 16) -> dict[str, Any]:
    """Per-character synaptic operations of every weight layer (:func:`neuromorph.metrics.synaptic_operations`
    divided by the window length), the attention products (activation x activation, not counted there), the
    attention exponentials (one per visible key, query, head and time step of a softmax head) and, for a spiking
    model, the firing rate of every LIF layer (:func:`neuromorph.metrics.spike_rates`)."""
    from neuromorph.metrics import spike_rates, synaptic_operations

    n = windows.shape[1]
    ops = synaptic_operations(model, windows, batch_size=batch_size)
    per_char = {
        name: {k: (v / n if k not in ("input_rate",) else v) for k, v in row.items()} for name, row in ops.items()
    }
    steps = getattr(model, "T", 1)
    attention = exponentials = 0.0
    for block in model.blocks:
        attn: Any = block.attn  # CausalSpikingSelfAttention or CausalSelfAttention: both carry these fields
        head_windows = attn.head_windows or (0,) * attn.num_heads
        visible_per_query = float(head_window_mask(n, head_windows).sum()) / n  # summed over heads
        # per query: (visible keys) x d for Q K^T and as many for (.) V, per head; averaged over the n queries
        attention += steps * 2 * attn.head_dim * visible_per_query
        if attn.attention == "softmax":
            exponentials += steps * visible_per_query
    result: dict[str, Any] = {
        "layers": per_char,
        "attention_products_per_char": attention,
        "attention_exponentials_per_char": exponentials,
        "window": n,
    }
    if isinstance(model, SpikingCharLM):
        result["spike_rates"] = spike_rates(model, windows, batch_size=batch_size)
    return result


def plot_learning_curves(curves: dict[str, list[dict[str, float]]], path: str, title: str = "") -> str:
    """PNG with validation bits/char against training step (left) and training seconds (right)."""
    from neuromorph.viz._common import new_figure, save_png

    if not curves or any(not rows for rows in curves.values()):
        raise ValueError("curves must map each model to a non-empty list of curve rows")
    fig = new_figure(10.0, 4.0)
    for i, (xkey, xlabel) in enumerate((("step", "training step"), ("train_s", "training wall time (s)"))):
        ax = fig.add_subplot(1, 2, i + 1)
        for kind, rows in curves.items():
            ax.plot(
                [r[xkey] for r in rows], [r["valid_bpc"] for r in rows], marker="o", ms=3, label=LABELS.get(kind, kind)
            )
        ax.set_xlabel(xlabel)
        ax.set_ylabel("validation bits/char")
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    return str(save_png(fig, path))


def run_char_lm(
    kinds: Sequence[str],
    corpus: CharCorpus,
    config: LMConfig,
    *,
    wall_s: Optional[float] = None,
    steps: Optional[int] = None,
    seed: int = 0,
    sample_chars: int = 0,
    temperature: float = 0.8,
    prompt_chars: int = 40,
    efficiency_windows: int = 8,
    ngram_orders: Sequence[int] = (),
    show_progress: Optional[bool] = None,
    log: Optional[Callable[[str], None]] = None,
) -> tuple[dict[str, Any], dict[str, LMRun]]:
    """Train (:func:`train_language_models`), then measure every model: parameters, steps, training seconds,
    throughput (training characters per second), bits/char on the whole validation and test blocks, the
    efficiency table (:func:`efficiency`, on the first ``efficiency_windows`` test windows) and, with
    ``sample_chars > 0``, a temperature sample continuing the first ``prompt_chars`` test characters; the
    test bits/char of the n-gram references of ``ngram_orders`` (:func:`ngram_bits_per_char`) go to
    ``ngram_test_bpc``.
    Returns a JSON-ready dict (``models[kind]`` per model, ``config``, ``corpus``) and the runs (trained models)."""
    if sample_chars:
        check_positive_int("sample_chars", sample_chars)
    check_positive_int("prompt_chars", prompt_chars)
    check_positive_int("efficiency_windows", efficiency_windows)
    runs = train_language_models(
        kinds, corpus, config, wall_s=wall_s, steps=steps, seed=seed, show_progress=show_progress, log=log
    )
    n = config.context
    test_windows = corpus.test[: (corpus.test.numel() // n) * n].reshape(-1, n)[:efficiency_windows]
    prompt = corpus.test[:prompt_chars]
    models: dict[str, object] = {}
    for kind, run in runs.items():
        entry: dict[str, object] = {
            "label": LABELS[kind],
            "parameters": run.parameters,
            "steps": run.steps,
            "train_s": run.train_s,
            "chars_per_s": run.steps * config.batch_size * n / max(run.train_s, 1e-9),
            "valid_bpc": bits_per_token(
                run.model,
                corpus.valid,
                batch_size=config.eval_batch_size,
                show_progress=show_progress,
                desc=f"{kind} valid",
            ),
            "test_bpc": bits_per_token(
                run.model,
                corpus.test,
                batch_size=config.eval_batch_size,
                show_progress=show_progress,
                desc=f"{kind} test",
            ),
            "curve": run.curve,
            "efficiency": efficiency(run.model, test_windows),
        }
        if sample_chars:
            gen = torch.Generator().manual_seed(seed)
            new = generate(run.model, prompt, sample_chars, temperature=temperature, generator=gen)
            entry["sample"] = {
                "prompt": corpus.decode(prompt),
                "continuation": corpus.decode(new),
                "temperature": temperature,
            }
        models[kind] = entry
        if log:
            log(
                f"{kind:>11}: {run.parameters} parameters, {run.steps} steps in {run.train_s:.0f}s; bits/char "
                f"valid {entry['valid_bpc']:.3f}, test {entry['test_bpc']:.3f}"
            )
    ngrams = {str(k): ngram_bits_per_char(corpus.train, corpus.test, k, corpus.vocab_size) for k in ngram_orders}
    return {
        "config": asdict(config),
        "ngram_test_bpc": ngrams,
        "budget": {"wall_s": wall_s, "steps": steps},
        "seed": seed,
        "corpus": {
            "name": corpus.name,
            "vocab_size": corpus.vocab_size,
            "bounds": list(corpus.bounds),
            "unknown": corpus.unknown,
        },
        "models": models,
    }, runs
