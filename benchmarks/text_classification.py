"""Text classification: Spikformer vs its same-size non-spiking twin, tf-idf logistic regression, a MiniLM linear
probe and population-coded MiniLM spikes into a spiking readout; 5 folds (train / validation / test), grid points
chosen on validation (:mod:`neuromorph.tasks.text_classification`). Also the per-head time-shift ablation and the
per-layer spike-rate / synaptic-operation tables. Results go to a JSON-lines file (resumable) and a markdown file.

    OMP_NUM_THREADS=1 python benchmarks/text_classification.py compare --datasets polarity newsgroups
    OMP_NUM_THREADS=1 python benchmarks/text_classification.py ablation --dataset polarity
    OMP_NUM_THREADS=1 python benchmarks/text_classification.py efficiency --dataset polarity
    python benchmarks/text_classification.py table                     # markdown from the stored runs
"""
from __future__ import annotations

import argparse
import sys

import torch

from neuromorph.tasks import text_classification as tc

ROW_NAMES = {"spikformer": "Spikformer (spiking)", "transformer": "Transformer, same size (non-spiking)",
             "tfidf_lr": "tf-idf + logistic regression", "minilm_probe": "MiniLM + logistic regression (probe)",
             "minilm_spiking": "MiniLM, population-coded spikes + spiking readout"}


def _fmt(row: dict) -> str:
    return f"{100 * row['test_mean']:.1f} ± {100 * row['test_sd']:.1f}"


def _choice(model: str, row: dict) -> str:
    cfg = row["config"]
    if "C" in cfg:
        return f"C={cfg['C']:g}"
    context = f", max_len {cfg['max_len']}" if "max_len" in cfg else ""
    return f"lr={cfg['lr']:g}{context}, epoch {row['epoch']}"


def comparison_table(store: tc.ResultStore, datasets: list[str]) -> str:
    lines = ["| model | " + " | ".join(f"{d}: test % (mean ± sd over folds) | chosen on validation"
                                      for d in datasets) + " |",
             "|---|" + "---|---|" * len(datasets)]
    for model in tc.MODELS:
        cells = []
        for d in datasets:
            try:
                row = store.select(d, model, None if model in ("tfidf_lr", "minilm_probe") else tc.CHECKPOINTS)
                cells += [_fmt(row) + f" (n={row['n']})", _choice(model, row) + f", val {100 * row['val_mean']:.1f}"]
            except ValueError:
                cells += ["not run", ""]
        lines.append(f"| {ROW_NAMES[model]} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def context_table(store: tc.ResultStore, dataset: str) -> str:
    """Each transformer row at each context length of the grid (the rest of the grid chosen on validation), to show
    what the context-length choice did; the comparison's choice is the row with the best validation mean."""
    lines = ["| model | max_len | test % (mean ± sd over folds) | chosen on validation |", "|---|---|---|---|"]
    for model in ("spikformer", "transformer"):
        for max_len in tc.MAX_LEN_GRID[dataset]:
            try:
                row = store.select(dataset, model, tc.CHECKPOINTS,
                                   where=lambda r, n=max_len: r["config"]["max_len"] == n)
            except ValueError:
                continue
            lines.append(f"| {ROW_NAMES[model]} | {max_len} | {_fmt(row)} (n={row['n']}) | "
                         f"lr={row['config']['lr']:g}, epoch {row['epoch']}, val {100 * row['val_mean']:.1f} |")
    return "\n".join(lines)


def ablation_table(store: tc.ResultStore, dataset: str) -> str:
    import statistics

    epoch = store.select(dataset, "spikformer", tc.CHECKPOINTS)["epoch"]  # the checkpoint chosen on validation
    lines = [f"Epoch {epoch} (the checkpoint the comparison chose on validation).", "",
             "| attention | seed | test % (mean over folds) | val % |", "|---|---|---|---|"]
    summary = []
    for shifts in ([0, 1, 2, 3], None):
        per_seed = []
        recs = [r for r in store.records if r["dataset"] == dataset and r["model"] == "spikformer_ablation"
                and r["config"]["time_shifts"] == shifts]
        for seed in sorted({r["seed"] for r in recs}):
            mine = [r for r in recs if r["seed"] == seed]
            pos = mine[0]["epochs"].index(epoch)
            test = statistics.fmean(r["test"][pos] for r in mine)
            val = statistics.fmean(r["val"][pos] for r in mine)
            per_seed.append(test)
            name = f"shifts {shifts}" if shifts else "no shift"
            lines.append(f"| {name} | {seed} | {100 * test:.1f} (n={len(mine)}) | {100 * val:.1f} |")
        if per_seed:
            sd = statistics.stdev(per_seed) if len(per_seed) > 1 else 0.0
            summary.append(f"{'shifted' if shifts else 'unshifted'}: {100 * statistics.fmean(per_seed):.1f} ± "
                           f"{100 * sd:.1f} over {len(per_seed)} seeds")
    by_run: dict[tuple, dict] = {}
    for r in store.records:
        if r["dataset"] == dataset and r["model"] == "spikformer_ablation":
            by_run.setdefault((r["fold"], r["seed"]), {})[bool(r["config"]["time_shifts"])] = \
                r["test"][r["epochs"].index(epoch)]
    diffs = [pair[True] - pair[False] for pair in by_run.values() if len(pair) == 2]
    if len(diffs) > 1:
        summary.append(f"paired difference shifted - unshifted over {len(diffs)} (fold, seed) runs: "
                       f"{100 * statistics.fmean(diffs):+.1f} ± {100 * statistics.stdev(diffs):.1f} points")
    return "\n".join(lines) + "\n\n" + "; ".join(summary)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stage", choices=("compare", "ablation", "efficiency", "table"))
    parser.add_argument("--datasets", nargs="+", default=["polarity", "newsgroups"],
                        choices=tc.DATASETS)
    parser.add_argument("--dataset", default="polarity", choices=tc.DATASETS,
                        help="data set of the ablation / efficiency stage")
    parser.add_argument("--models", nargs="+", default=list(tc.MODELS), choices=tc.MODELS)
    parser.add_argument("--folds", type=int, nargs="+", default=list(range(tc.NUM_FOLDS)))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="ablation seeds")
    parser.add_argument("--lr", type=float, default=None, help="ablation learning rate (default: the one the "
                        "comparison chose on validation; the context length is always the chosen one)")
    parser.add_argument("--runs", default="runs/text_classification.jsonl", help="JSON-lines result store")
    parser.add_argument("--markdown", default=None, help="also write the tables to this file")
    parser.add_argument("--max-len", type=int, default=None, help="efficiency: hold both transformers at this "
                        "context length (default: each at the length chosen on validation)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    store = tc.ResultStore(args.runs)
    if args.stage == "compare":
        tc.run_comparison(store, args.datasets, args.models, args.folds)
    elif args.stage == "ablation":
        chosen = store.select(args.dataset, "spikformer", tc.CHECKPOINTS)["config"]  # on validation
        lr = chosen["lr"] if args.lr is None else args.lr
        tc.run_shift_ablation(store, args.dataset, lr, chosen["max_len"], seeds=args.seeds, folds=args.folds)
    elif args.stage == "efficiency":
        text = tc.efficiency_markdown(store, args.dataset, max_len=args.max_len)
        print(text)
        if args.markdown:
            with open(args.markdown, "a", encoding="utf-8") as fh:
                fh.write(text + "\n")
        return 0
    tables = "## Comparison\n\n" + comparison_table(store, args.datasets)
    for dataset in args.datasets:
        if len(tc.MAX_LEN_GRID[dataset]) > 1:
            tables += f"\n\n## Context length ({dataset})\n\n" + context_table(store, dataset)
    if any(r["model"] == "spikformer_ablation" for r in store.records):
        tables += "\n\n## Time-shift ablation (" + args.dataset + ")\n\n" + ablation_table(store, args.dataset)
    print(tables)
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as fh:
            fh.write(tables + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
