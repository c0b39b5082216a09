"""Text classification with a spiking transformer against same-size and classical baselines (issue 13).

Data: :func:`neuromorph.data.text.load_text_task` with ``num_folds=5`` -- per fold ``k``: 60 % train, 20 %
validation (fold ``k+1``), 20 % test (fold ``k``), stratified; over the five folds every document is tested once.
Models (rows of the table, :data:`MODELS`):

* ``spikformer``: :class:`~neuromorph.models.spikformer.Spikformer` on frozen GloVe 6B 50-d word vectors
  (:func:`~neuromorph.data.text.glove_vocabulary`, projected to the model width), ``T`` steps of direct input.
* ``transformer``: :class:`~neuromorph.models.transformer.TransformerClassifier`, the non-spiking twin built from
  the same arguments (same width, depth and parameter count), trained with the same optimiser, epochs and grid.
* ``tfidf_lr``: scikit-learn ``TfidfVectorizer`` (the library tokeniser, sublinear tf) + ``LogisticRegression``.
* ``minilm_probe``: ``LogisticRegression`` on all-MiniLM-L6-v2 sentence embeddings
  (:func:`neuromorph.data.embeddings.encode_minilm`, cached on disk).
* ``minilm_spiking``: the same embeddings, standardised with training statistics, clipped to ``[-c, c]`` and
  population-coded (:class:`~neuromorph.encoding.population.PopulationEncoder`, ``N`` Gaussian-tuned neurons per
  dimension, Bernoulli spikes for ``T`` steps) into a spiking readout
  (:class:`~neuromorph.models.SpikingMLP`) trained with :func:`neuromorph.training.fit`.

Protocol (:func:`select`): every model has a small grid (learning rate, or ``C``); for iterative models the epoch
checkpoint (:data:`CHECKPOINTS`) is part of the grid, and for the two transformers the context length
(:data:`MAX_LEN_GRID`: longer posts are cut, and a third of the newsgroups posts are longer than 128 tokens).
The grid point with the best validation accuracy averaged over the folds is chosen; its test accuracy is reported
as mean +- sd over the folds (and seeds). The test split never takes part in a choice.

>>> row = select([{"model": "m", "config": {"lr": 1}, "val": [0.5], "test": [0.6], "epochs": [1]},
...               {"model": "m", "config": {"lr": 2}, "val": [0.7], "test": [0.4], "epochs": [1]}])
>>> row["config"], row["test_mean"]
({'lr': 2}, 0.4)
"""

from __future__ import annotations

import json
import math
import os
import statistics
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from neuromorph.data.text import TextTask, fold_splits, glove_vocabulary, load_text_corpus, load_text_task
from neuromorph.utils import check_positive_int

MODELS = ("spikformer", "transformer", "tfidf_lr", "minilm_probe", "minilm_spiking")
# context lengths (tokens) of the transformer rows; the first is the default of load_fold
MAX_LEN_GRID = {"polarity": (40,), "newsgroups": (128, 256, 512)}
DATASETS = tuple(MAX_LEN_GRID)
NUM_FOLDS = 5
CHECKPOINTS = (10, 20, 30)
C_GRID = (0.01, 0.1, 1.0, 10.0, 100.0)
LR_GRID = (1e-3, 3e-3)


@dataclass
class TransformerConfig:
    """Shared settings of the Spikformer and its non-spiking twin (the spiking ones are ignored by the twin).

    >>> TransformerConfig(dim=32).model_kwargs()["dim"]
    32
    """

    dim: int = 64
    depth: int = 1
    heads: int = 4
    mlp_ratio: float = 2.0
    T: int = 4
    norm: str = "layer"
    dropout: float = 0.1
    weight_decay: float = 0.01
    batch_size: int = 32
    epochs: int = 30
    time_shifts: tuple[int, ...] | None = (0, 1, 2, 3)
    glove_words: int = 50_000

    def model_kwargs(self) -> dict[str, Any]:
        return {
            "dim": self.dim,
            "depth": self.depth,
            "num_heads": self.heads,
            "mlp_ratio": self.mlp_ratio,
            "norm": self.norm,
            "dropout": self.dropout,
        }


@dataclass
class PopulationConfig:
    """Population code and readout of the ``minilm_spiking`` row.

    >>> PopulationConfig().num_neurons * 384          # input width of the readout for MiniLM embeddings
    3072
    """

    num_neurons: int = 8
    clip: float = 2.5
    T: int = 8
    hidden: int = 0  # 0: a single spiking readout layer 384*N -> classes
    weight_decay: float = 0.01
    batch_size: int = 32
    epochs: int = 30


@dataclass
class Fold:
    """One fold of a data set: the tokenised task and the corpus indices of its splits."""

    task: TextTask
    indices: dict[str, np.ndarray] = field(default_factory=dict)


def load_fold(
    dataset: str, fold: int, vocab: Sequence[str], num_folds: int = NUM_FOLDS, max_len: int | None = None
) -> Fold:
    """Fold ``fold`` of ``dataset`` tokenised with ``vocab``, each document cut to ``max_len`` tokens (default: the
    first of :data:`MAX_LEN_GRID`).

    >>> from neuromorph.data.text import build_vocab
    >>> fold = load_fold("polarity", 2, build_vocab([["good"], ["bad"]], min_count=1))
    >>> tuple(fold.task.x_test.shape), len(fold.indices["val"])
    ((40, 40), 40)
    """
    if dataset not in MAX_LEN_GRID:
        raise ValueError(f"dataset must be one of {DATASETS}, got {dataset!r}")
    if max_len is None:
        max_len = MAX_LEN_GRID[dataset][0]
    task = load_text_task(dataset, max_len=max_len, num_folds=num_folds, fold=fold, vocab=vocab)
    _, labels, _ = load_text_corpus(dataset)
    train, val, test = fold_splits(labels, num_folds, fold)
    return Fold(task, {"train": train, "val": val, "test": test})


# ------------------------------------------------------------------------------------------------ baselines
def logistic_regression_grid(
    features: dict[str, Any], labels: dict[str, Tensor], cs: Iterable[float] = C_GRID
) -> list[dict[str, Any]]:
    """Fit ``LogisticRegression(C)`` on ``features["train"]`` for every ``C``; records with val and test accuracy.

    >>> x = {s: [[0.0], [1.0]] for s in ("train", "val", "test")}
    >>> y = {s: torch.tensor([0, 1]) for s in x}
    >>> logistic_regression_grid(x, y, cs=[100.0])[0]["test"]
    [1.0]
    """
    from sklearn.linear_model import LogisticRegression

    out = []
    for c in cs:
        clf = LogisticRegression(C=c, max_iter=5000).fit(features["train"], labels["train"].numpy())
        out.append(
            {
                "config": {"C": c},
                "val": [float(clf.score(features["val"], labels["val"].numpy()))],
                "test": [float(clf.score(features["test"], labels["test"].numpy()))],
                "epochs": [0],
            }
        )
    return out


def tfidf_features(task: TextTask) -> dict[str, Any]:
    """Sparse tf-idf matrices per split; the vectoriser (library tokeniser, sublinear tf) is fitted on train.

    >>> task = load_text_task("polarity", num_folds=5, fold=0)
    >>> feats = tfidf_features(task)
    >>> feats["train"].shape[0], feats["test"].shape[1] == feats["train"].shape[1]
    (120, True)
    """
    from sklearn.feature_extraction.text import TfidfVectorizer

    from neuromorph.data.text import tokenize

    vectorizer = TfidfVectorizer(tokenizer=tokenize, lowercase=False, token_pattern=None, sublinear_tf=True)
    out = {"train": vectorizer.fit_transform(task.texts["train"])}
    for split in ("val", "test"):
        out[split] = vectorizer.transform(task.texts[split])
    return out


def minilm_corpus_embeddings(dataset: str) -> Tensor:
    """MiniLM embeddings ``[200, 384]`` of every document of ``dataset`` in corpus order (cached on disk)."""
    from neuromorph.data.embeddings import encode_minilm

    texts, _, _ = load_text_corpus(dataset)
    return encode_minilm([" ".join(t.split()) or "." for t in texts])


def _labels(task: TextTask) -> dict[str, Tensor]:
    return {split: task.split(split)[2] for split in task.splits}


# ------------------------------------------------------------------------------------------------ trained models
def build_text_model(
    kind: str, task: TextTask, vectors: Tensor, cfg: TransformerConfig, time_shifts: tuple[int, ...] | None = None
) -> nn.Module:
    """``"spikformer"`` or ``"transformer"`` for ``task`` on the frozen word vectors ``vectors``.

    >>> from neuromorph.models.transformer import parameter_count
    >>> task = load_text_task("polarity", max_len=16)
    >>> vectors = torch.zeros(task.vocab_size, 50)
    >>> snn, twin = (build_text_model(k, task, vectors, TransformerConfig()) for k in ("spikformer", "transformer"))
    >>> parameter_count(snn) == parameter_count(twin)
    True
    """
    from neuromorph.models.spikformer import Spikformer
    from neuromorph.models.transformer import TransformerClassifier

    common = dict(vocab_size=task.vocab_size, max_len=task.max_len, embeddings=vectors, **cfg.model_kwargs())
    if kind == "spikformer":
        return Spikformer(task.num_classes, T=cfg.T, time_shifts=time_shifts, **common)
    if kind == "transformer":
        return TransformerClassifier(task.num_classes, **common)
    raise ValueError(f"kind must be 'spikformer' or 'transformer', got {kind!r}")


def _fit_with_curves(
    model: nn.Module,
    data: dict[str, tuple[Tensor, Tensor]],
    *,
    lr: float,
    epochs: int,
    batch_size: int,
    weight_decay: float,
    seed: int,
    encode: Callable[[Tensor], Tensor] | None = None,
    stop_after: int | None = None,
    show_progress: bool | None = False,
) -> dict[str, Any]:
    """Train with :func:`neuromorph.training.fit` (AdamW, cosine); validation and test accuracy after every epoch."""
    from neuromorph.metrics import evaluate
    from neuromorph.training import fit

    tests: list[float] = []

    def on_epoch(epoch: int, result: Any) -> None:
        tests.append(evaluate(model, *data["test"], encode=encode, show_progress=False)["accuracy"])

    torch.manual_seed(seed)
    result = fit(
        model,
        data["train"],
        test=data["val"],
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        weight_decay=weight_decay,
        optimizer="adamw",
        encode=encode,
        seed=seed,
        on_epoch=on_epoch,
        stop_after=stop_after,
        show_progress=show_progress,
        desc="epoch",
    )
    return {
        "val": result.series("test_acc"),
        "test": tests,
        "train": result.series("train_acc"),
        "epochs": [int(e) for e in result.series("epoch")],
        "seconds": result.train_time,
    }


def train_text_model(
    kind: str,
    fold: Fold,
    vectors: Tensor,
    cfg: TransformerConfig,
    lr: float,
    seed: int,
    time_shifts: tuple[int, ...] | None = None,
    stop_after: int | None = None,
    show_progress: bool | None = False,
) -> tuple[nn.Module, dict[str, Any]]:
    """Build and train one transformer row on one fold; returns the model and its per-epoch record.

    ``stop_after``: stop after that many epochs of the ``cfg.epochs`` cosine schedule (an epoch checkpoint)."""
    torch.manual_seed(seed)
    model = build_text_model(kind, fold.task, vectors, cfg, time_shifts)
    data = {split: (fold.task.split(split)[0], fold.task.split(split)[2]) for split in fold.task.splits}
    curves = _fit_with_curves(
        model,
        data,
        lr=lr,
        epochs=cfg.epochs,
        batch_size=cfg.batch_size,
        weight_decay=cfg.weight_decay,
        seed=seed,
        stop_after=stop_after,
        show_progress=show_progress,
    )
    return model, curves


class PopulationSpikes(nn.Module):
    """Standardise, clip and population-code embeddings: ``[B, E]`` -> Bernoulli spikes ``[T, B, E * N]``.

    ``z = clip((x - mean) / std, -c, c)``; each of the ``E`` components drives ``N`` neurons with Gaussian tuning
    curves centred on ``linspace(-c, c, N)`` (:class:`~neuromorph.encoding.population.PopulationEncoder`).

    >>> code = PopulationSpikes(torch.zeros(3), torch.ones(3), num_neurons=4, clip=2.0, T=5)
    >>> code(torch.randn(2, 3)).shape
    torch.Size([5, 2, 12])
    """

    def __init__(
        self,
        mean: Tensor,
        std: Tensor,
        num_neurons: int = 8,
        clip: float = 2.5,
        T: int = 8,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        from neuromorph.encoding.population import PopulationEncoder

        check_positive_int("T", T)
        if not (isinstance(clip, (int, float)) and math.isfinite(clip) and clip > 0):
            raise ValueError(f"clip must be a finite number > 0, got {clip!r}")
        if mean.shape != std.shape or mean.dim() != 1 or not bool((std > 0).all()):
            raise ValueError("mean and std must be 1-d tensors of the same length with std > 0")
        self.mean: Tensor
        self.std: Tensor
        self.register_buffer("mean", mean.float())
        self.register_buffer("std", std.float())
        self.clip, self.T, self.generator = float(clip), T, generator
        self.encoder = PopulationEncoder(num_neurons, -self.clip, self.clip)

    def forward(self, x: Tensor) -> Tensor:
        z = ((x - self.mean) / self.std).clamp(-self.clip, self.clip)
        spikes = self.encoder.encode(z, self.T, generator=self.generator)  # [T, B, E, N]
        return spikes.flatten(2)


def train_population_readout(
    fold: Fold,
    embeddings: Tensor,
    cfg: PopulationConfig,
    lr: float,
    seed: int,
    stop_after: int | None = None,
    show_progress: bool | None = False,
) -> tuple[nn.Module, PopulationSpikes, dict]:
    """The ``minilm_spiking`` row on one fold: population-coded MiniLM embeddings into a spiking readout."""
    from neuromorph.models import SpikingMLP

    feats = {split: embeddings[idx] for split, idx in fold.indices.items()}
    labels = _labels(fold.task)
    mean, std = feats["train"].mean(0), feats["train"].std(0).clamp_min(1e-6)
    coder = PopulationSpikes(mean, std, cfg.num_neurons, cfg.clip, cfg.T, generator=torch.Generator().manual_seed(seed))
    width = embeddings.shape[1] * cfg.num_neurons
    sizes = [width, cfg.hidden, fold.task.num_classes] if cfg.hidden else [width, fold.task.num_classes]
    torch.manual_seed(seed)
    model = SpikingMLP(sizes, num_steps=cfg.T)
    data = {split: (feats[split], labels[split]) for split in feats}
    curves = _fit_with_curves(
        model,
        data,
        lr=lr,
        epochs=cfg.epochs,
        batch_size=cfg.batch_size,
        weight_decay=cfg.weight_decay,
        seed=seed,
        encode=coder,
        stop_after=stop_after,
        show_progress=show_progress,
    )
    return model, coder, curves


# ------------------------------------------------------------------------------------------------ protocol
def select(records: Sequence[dict[str, Any]], checkpoints: Sequence[int] | None = None) -> dict[str, Any]:
    """Choose the (config, epoch) with the best mean validation accuracy over ``records`` (one model, several
    folds/seeds; each record has ``config``, per-epoch ``val``/``test`` and ``epochs``); report its test accuracy.

    ``checkpoints``: the epochs that may be chosen (default: every recorded epoch). Ties go to the earlier grid
    point. Returns ``config``, ``epoch``, ``val_mean``, ``test_mean``, ``test_sd`` (sample sd over the records) and
    ``n`` (records averaged).
    """
    if not records:
        raise ValueError("records must not be empty")
    groups: dict[str, list[dict[str, Any]]] = {}
    for rec in records:
        groups.setdefault(json.dumps(rec["config"], sort_keys=True), []).append(rec)
    best: dict[str, Any] | None = None
    for key, recs in groups.items():
        epochs = recs[0]["epochs"]
        for pos, epoch in enumerate(epochs):
            if checkpoints is not None and epoch not in checkpoints:
                continue
            vals = [r["val"][pos] for r in recs]
            tests = [r["test"][pos] for r in recs]
            row = {
                "config": json.loads(key),
                "epoch": epoch,
                "val_mean": statistics.fmean(vals),
                "test_mean": statistics.fmean(tests),
                "test_sd": statistics.stdev(tests) if len(tests) > 1 else 0.0,
                "n": len(recs),
                "tests": tests,
            }
            if best is None or row["val_mean"] > best["val_mean"]:
                best = row
    if best is None:
        raise ValueError(f"no record has an epoch in checkpoints={checkpoints!r}")
    return best


class ResultStore:
    """Append-only JSON-lines file of run records, keyed by ``(dataset, model, config, fold, seed)``, so that an
    interrupted experiment resumes without redoing finished runs.

    >>> import tempfile
    >>> store = ResultStore(os.path.join(tempfile.mkdtemp(), "runs.jsonl"))
    >>> store.add({"dataset": "d", "model": "m", "config": {"C": 1}, "fold": 0, "seed": 0, "val": [0.5],
    ...            "test": [0.6], "epochs": [0]})
    >>> ResultStore(store.path).select("d", "m")["test_mean"]
    0.6
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.records: list[dict[str, Any]] = []
        if os.path.exists(path):
            with open(path, encoding="utf-8") as fh:
                self.records = [json.loads(line) for line in fh if line.strip()]

    @staticmethod
    def key(rec: dict[str, Any]) -> str:
        return json.dumps([rec["dataset"], rec["model"], rec["config"], rec["fold"], rec["seed"]], sort_keys=True)

    def has(self, **rec: Any) -> bool:
        k = self.key(rec)
        return any(self.key(r) == k for r in self.records)

    def add(self, rec: dict[str, Any]) -> None:
        rec = json.loads(json.dumps(rec))  # tuples become lists, as they will be when read back
        self.records.append(rec)
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(rec) + "\n")

    def select(
        self,
        dataset: str,
        model: str,
        checkpoints: Sequence[int] | None = None,
        where: Callable[[dict[str, Any]], bool] | None = None,
    ) -> dict[str, Any]:
        recs = [
            r for r in self.records if r["dataset"] == dataset and r["model"] == model and (where is None or where(r))
        ]
        return select(recs, checkpoints)


def run_comparison(
    store: ResultStore,
    datasets: Sequence[str],
    models: Sequence[str] = MODELS,
    folds: Sequence[int] = tuple(range(NUM_FOLDS)),
    lrs: Sequence[float] = LR_GRID,
    cfg: TransformerConfig | None = None,
    pop: PopulationConfig | None = None,
    log: Callable[[str], None] | None = print,
) -> None:
    """Run every missing (dataset, model, grid point, fold) of the comparison into ``store`` (seed = fold).

    The grid of the transformer rows is ``lrs`` x :data:`MAX_LEN_GRID` of the data set (``config["max_len"]``)."""
    cfg = cfg or TransformerConfig()
    pop = pop or PopulationConfig()
    for m in models:
        if m not in MODELS:
            raise ValueError(f"models must be drawn from {MODELS}, got {m!r}")
    vocab, vectors = glove_vocabulary(cfg.glove_words)
    for dataset in datasets:
        minilm = minilm_corpus_embeddings(dataset) if {"minilm_probe", "minilm_spiking"} & set(models) else None
        for fold_id in folds:
            cut = {max_len: load_fold(dataset, fold_id, vocab, max_len=max_len) for max_len in MAX_LEN_GRID[dataset]}
            fold = cut[MAX_LEN_GRID[dataset][0]]  # the rows that read whole documents or embeddings
            base = {"dataset": dataset, "fold": fold_id, "seed": fold_id}
            for model_name in models:
                if model_name in ("tfidf_lr", "minilm_probe"):
                    if store.has(model=model_name, config={"C": C_GRID[0]}, **base):
                        continue
                    if model_name == "tfidf_lr":
                        feats = tfidf_features(fold.task)
                    else:
                        assert minilm is not None  # encoded above whenever a MiniLM row is asked for
                        feats = {s: minilm[idx].numpy() for s, idx in fold.indices.items()}
                    for rec in logistic_regression_grid(feats, _labels(fold.task)):
                        store.add({**base, "model": model_name, **rec})
                    continue
                grid: list[tuple[float, int | None]]
                if model_name == "minilm_spiking":
                    grid = [(lr, None) for lr in lrs]
                else:
                    grid = [(lr, max_len) for max_len in MAX_LEN_GRID[dataset] for lr in lrs]
                for lr, max_len in grid:
                    if max_len is None:
                        config = {"lr": lr, **asdict(pop)}
                        if store.has(model=model_name, config=config, **base):
                            continue
                        assert minilm is not None
                        _, _, curves = train_population_readout(fold, minilm, pop, lr, seed=fold_id)
                    else:
                        shifts = cfg.time_shifts if model_name == "spikformer" else None
                        config = {"lr": lr, "max_len": max_len, **asdict(cfg), "time_shifts": shifts}
                        if model_name == "transformer":
                            config = {k: v for k, v in config.items() if k not in ("T", "time_shifts")}
                        if store.has(model=model_name, config=config, **base):
                            continue
                        _, curves = train_text_model(
                            model_name, cut[max_len], vectors, cfg, lr, seed=fold_id, time_shifts=shifts
                        )
                    store.add({**base, "model": model_name, "config": config, **curves})
                    if log:
                        context = "" if max_len is None else f" max_len {max_len}"
                        log(
                            f"{dataset} fold {fold_id} {model_name} lr {lr:g}{context}: val {curves['val'][-1]:.3f} "
                            f"test {curves['test'][-1]:.3f} ({curves['seconds']:.0f}s)"
                        )


def run_shift_ablation(
    store: ResultStore,
    dataset: str,
    lr: float,
    max_len: int | None = None,
    seeds: Sequence[int] = (0, 1, 2),
    shifts: Sequence[tuple[int, ...] | None] = ((0, 1, 2, 3), None),
    folds: Sequence[int] = tuple(range(NUM_FOLDS)),
    cfg: TransformerConfig | None = None,
    log: Callable[[str], None] | None = print,
) -> None:
    """Spikformer with and without the per-head time shift, ``seeds`` x ``folds`` (model ``spikformer_ablation``),
    at learning rate ``lr`` and context length ``max_len`` (default: the first of :data:`MAX_LEN_GRID`)."""
    cfg = cfg or TransformerConfig()
    if max_len is None:
        max_len = MAX_LEN_GRID[dataset][0]
    vocab, vectors = glove_vocabulary(cfg.glove_words)
    for fold_id in folds:
        fold = load_fold(dataset, fold_id, vocab, max_len=max_len)
        for seed in seeds:
            for shift in shifts:
                config = {"lr": lr, "max_len": max_len, **asdict(cfg), "time_shifts": list(shift) if shift else None}
                base = {
                    "dataset": dataset,
                    "model": "spikformer_ablation",
                    "config": config,
                    "fold": fold_id,
                    "seed": seed,
                }
                if store.has(**base):
                    continue
                main_config = {**config, "time_shifts": config["time_shifts"]}
                reuse = [
                    r
                    for r in store.records
                    if r["dataset"] == dataset
                    and r["model"] == "spikformer"
                    and r["config"] == main_config
                    and r["fold"] == fold_id
                    and r["seed"] == seed
                ]
                if reuse:  # the same run already exists in the comparison
                    store.add({**base, **{k: reuse[0][k] for k in ("val", "test", "train", "epochs", "seconds")}})
                    continue
                _, curves = train_text_model(
                    "spikformer", fold, vectors, cfg, lr, seed=seed, time_shifts=tuple(shift) if shift else None
                )
                store.add({**base, **curves})
                if log:
                    log(f"ablation {dataset} fold {fold_id} seed {seed} shifts {shift}: test {curves['test'][-1]:.3f}")


# ------------------------------------------------------------------------------------------------ efficiency
def layer_operations(
    model: nn.Module, x: Tensor, encode: Callable[[Tensor], Tensor] | None = None
) -> list[dict[str, Any]]:
    """Per-layer rows ``layer``, ``input_rate``, ``acs``, ``macs``, ``dense``, ``energy_uj`` (per example) from
    :func:`neuromorph.metrics.synaptic_operations`, plus ``out_rate``: the firing rate of the spiking neuron layer
    that the layer feeds (the sibling ``lif`` of a Spikformer projection, or the next spiking layer), when there is
    one (:func:`neuromorph.metrics.spike_rates`). The last row is ``total``.

    >>> rows = layer_operations(nn.Linear(4, 2), torch.tensor([[1.0, 0.0, 0.0, 1.0]]))
    >>> rows[0]["layer"], rows[0]["acs"], rows[0]["macs"]
    ('', 4.0, 0.0)
    """
    from neuromorph.metrics import spike_rates, synaptic_operations

    ops = synaptic_operations(model, x, encode=encode)
    try:
        rates = spike_rates(model, x, encode=encode)
    except ValueError:  # no spiking layer (the non-spiking twin, a linear probe)
        rates = {}
    neuron_names = [n for n in rates if n != "all"]
    rows = []
    for name, op in ops.items():
        row = {
            "layer": name,
            **{k: op[k] for k in ("input_rate", "acs", "macs", "dense", "energy_uj")},
            "out_rate": None,
        }
        parent = name.rsplit(".", 1)[0] if "." in name else ""
        for candidate in (f"{parent}.lif" if parent else "lif", "embed_lif" if name == "embedding.embed" else ""):
            if candidate in rates:
                row["out_rate"] = rates[candidate]
                break
        else:
            later = [n for n in neuron_names if n > name]
            if name != "total" and later and not parent.startswith("blocks"):
                row["out_rate"] = rates[later[0]]
        rows.append(row)
    if "all" in rates:
        rows[-1]["out_rate"] = rates["all"]
    return rows


def operations_markdown(title: str, rows: Sequence[dict[str, Any]]) -> str:
    """A markdown table of :func:`layer_operations` rows.

    >>> print(operations_markdown("probe", layer_operations(nn.Linear(2, 1), torch.ones(1, 2)))[:9])
    **probe**
    """

    def num(v: float | None, fmt: str) -> str:
        return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, fmt)

    lines = [
        f"**{title}**",
        "",
        "| layer | input non-zero rate | ACs / example | MACs / example | dense ops / example "
        "| energy µJ / example (45 nm) | output spike rate |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['layer'] or '(the model)'} | {num(r['input_rate'], '.3f')} | {num(r['acs'], '.3g')} | "
            f"{num(r['macs'], '.3g')} | {num(r['dense'], '.3g')} | {num(r['energy_uj'], '.3g')} | "
            f"{num(r['out_rate'], '.3f')} |"
        )
    return "\n".join(lines)


def efficiency_markdown(
    store: ResultStore,
    dataset: str,
    fold_id: int = 0,
    cfg: TransformerConfig | None = None,
    pop: PopulationConfig | None = None,
    max_len: int | None = None,
) -> str:
    """Retrain each trained row of ``dataset`` at the grid point the comparison chose on validation (fold
    ``fold_id``, stopped at the chosen epoch) and tabulate its per-layer operations on that fold's test split.

    ``max_len``: hold both transformers at this context length (their learning rate and epoch still chosen on
    validation at it), for an energy comparison on equal inputs; default: each at its own chosen length."""
    if max_len is not None and max_len not in MAX_LEN_GRID.get(dataset, ()):
        raise ValueError(f"max_len must be one of the grid {MAX_LEN_GRID.get(dataset)} of {dataset!r}, got {max_len!r}")
    cfg = cfg or TransformerConfig()
    pop = pop or PopulationConfig()
    vocab, vectors = glove_vocabulary(cfg.glove_words)
    fold = load_fold(dataset, fold_id, vocab)
    parts = []
    at_length = None if max_len is None else (lambda r: r["config"]["max_len"] == max_len)
    for kind in ("spikformer", "transformer"):
        choice = store.select(dataset, kind, CHECKPOINTS, where=at_length)
        shifts = choice["config"].get("time_shifts")
        cut = load_fold(dataset, fold_id, vocab, max_len=choice["config"]["max_len"])
        model, curves = train_text_model(
            kind,
            cut,
            vectors,
            cfg,
            choice["config"]["lr"],
            seed=fold_id,
            time_shifts=tuple(shifts) if shifts else None,
            stop_after=choice["epoch"],
        )
        model.eval()
        rows = layer_operations(model, cut.task.x_test)
        parts.append(
            operations_markdown(
                f"{kind} (lr {choice['config']['lr']:g}, max_len {choice['config']['max_len']}, "
                f"epoch {choice['epoch']}, fold {fold_id} test accuracy {100 * curves['test'][-1]:.1f} %)",
                rows,
            )
        )
    minilm = minilm_corpus_embeddings(dataset)
    choice = store.select(dataset, "minilm_spiking", CHECKPOINTS)
    model, coder, curves = train_population_readout(
        fold, minilm, pop, choice["config"]["lr"], seed=fold_id, stop_after=choice["epoch"]
    )
    model.eval()
    rows = layer_operations(model, minilm[fold.indices["test"]], encode=coder)
    parts.append(
        operations_markdown(
            f"minilm_spiking readout (population code {pop.num_neurons} neurons x 384, "
            f"T={pop.T}; fold {fold_id} test accuracy {100 * curves['test'][-1]:.1f} %)",
            rows,
        )
    )
    feats = tfidf_features(fold.task)
    from sklearn.linear_model import LogisticRegression

    c = store.select(dataset, "tfidf_lr")["config"]["C"]
    clf = LogisticRegression(C=c, max_iter=5000).fit(feats["train"], fold.task.y_train.numpy())
    linear = nn.Linear(clf.coef_.shape[1], max(1, clf.coef_.shape[0]))
    dense_test = torch.tensor(feats["test"].toarray(), dtype=torch.float32)
    parts.append(
        operations_markdown(
            f"tf-idf logistic regression (C={c:g}; {clf.coef_.shape[1]} features, one output for 2 classes)",
            layer_operations(linear, dense_test),
        )
    )
    return "\n\n".join(parts)
