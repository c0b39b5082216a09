"""The compression benchmark behind docs/compress.md: GloVe 400k x 50 and >= 100k MiniLM vectors, every method
fitted on a disjoint fit split, FAISS anchors side by side, budget comparison at 8/16/32/48 bytes, plots.

    python benchmarks/compress_eval.py                          # both data sets (MiniLM cache built on first use)
    python benchmarks/compress_eval.py --dataset glove --glove-words 100000

Writes into ``--out`` (default ``runs/compress``): ``<dataset>.jsonl`` (one row per method), ``<dataset>.md``
(tables), ``<dataset>_recall_vs_bytes.png`` and ``<dataset>_recall_vs_qps.png``; prints the tables.
"""
from __future__ import annotations

import argparse
import os
import time

from neuromorph.compress.compare import budget_comparison, format_budget_table, plot_rows
from neuromorph.compress.evaluate import evaluate, format_table, write_json_rows
from neuromorph.compress.methods import DEFAULT_METHODS, parse_methods
from neuromorph.compress.splits import load_splits


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", choices=("glove", "minilm", "both"), default="both")
    p.add_argument("--glove-words", type=int, default=400_000)
    p.add_argument("--glove-fit", type=int, default=20_000)
    p.add_argument("--minilm-words", type=int, default=111_000)
    p.add_argument("--minilm-fit", type=int, default=10_000)
    p.add_argument("--queries", type=int, default=1000)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs/compress")
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    sizes = {"glove": (args.glove_words, args.glove_fit), "minilm": (args.minilm_words, args.minilm_fit)}
    for name in (("glove", "minilm") if args.dataset == "both" else (args.dataset,)):
        t0 = time.perf_counter()
        pool, num_fit = sizes[name]
        splits = load_splits(name, pool, num_fit, args.queries, args.seed)
        n, d = splits.database.shape
        rows = evaluate(splits, parse_methods(DEFAULT_METHODS[name], d, seed=args.seed), threads=args.threads,
                        seed=args.seed)
        head = (f"{name}: fit {splits.fit.shape[0]}, database {n} x {d}, {splits.queries.shape[0]} held-out queries, "
                f"{args.threads} thread(s), {time.perf_counter() - t0:.0f} s")
        table, budgets = format_table(rows), format_budget_table(budget_comparison(rows))
        print(head, table, "", budgets, "", sep="\n", flush=True)
        base = os.path.join(args.out, name)
        write_json_rows(rows, base + ".jsonl")
        with open(base + ".md", "w") as fh:
            fh.write(f"{head}\n\n{table}\n\n{budgets}\n")
        plot_rows(rows, f"{name} ({n} x {d})", base + "_recall_vs_bytes.png", base + "_recall_vs_qps.png")


if __name__ == "__main__":
    main()
