"""``neuromorph compress``: evaluate embedding compression methods and print one table.

Example::

    python -m neuromorph compress --dataset glove --words 20000 --methods float,int8,sign,matryoshka
    python -m neuromorph compress --dataset minilm --csv runs/minilm.csv --markdown runs/minilm.md
"""
from __future__ import annotations

import argparse
import sys
import time

QUICK_METHODS = ("float", "int8", "scalar5", "ternary", "thermo4", "sign", "simhash256", "matryoshka",
                 "sdg3-240", "simhash1024", "sd3-1024", "population")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("compress", help="compress embeddings and print the evaluation table",
                              description="Quantise GloVe or MiniLM embeddings with several methods and report "
                                          "bits/dim, compression ratio, word-similarity, analogy and recall@k as "
                                          "% of float32, distance error and search throughput.")
    p.add_argument("--dataset", choices=("glove", "minilm"), default="glove")
    p.add_argument("--words", type=int, default=20_000, help="GloVe: most frequent words used (default 20000)")
    p.add_argument("--sentences", type=int, default=None, help="MiniLM: first N corpus sentences (default all)")
    p.add_argument("--methods", default=",".join(QUICK_METHODS),
                   help="comma-separated method names (see neuromorph.compress.evaluate.parse_methods); "
                        "'all' runs the full benchmark list")
    p.add_argument("--queries", type=int, default=1000, help="recall@k queries (default 1000)")
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--rescore-factor", type=int, default=10, help="Hamming candidates = factor * k")
    p.add_argument("--rescore-with", choices=("float", "int8"), default="float")
    p.add_argument("--index", choices=("flat", "hnsw"), default="flat", help="FAISS binary index")
    p.add_argument("--threads", type=int, default=1, help="FAISS / torch threads (default 1)")
    p.add_argument("--analogy-vocab", type=int, default=30_000)
    p.add_argument("--max-analogies", type=int, default=5000)
    p.add_argument("--matryoshka-steps", type=int, default=400)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--csv", default=None, help="also write all metrics to this CSV file")
    p.add_argument("--markdown", default=None, help="also write the table to this markdown file")
    p.add_argument("--plain", action="store_true", help="print an aligned text table instead of markdown")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from neuromorph.compress.evaluate import (DEFAULT_METHODS, evaluate, format_table, load_eval_data,
                                              parse_methods, write_csv)

    for name in ("words", "queries", "k", "rescore_factor", "threads", "analogy_vocab", "max_analogies",
                 "matryoshka_steps"):
        if getattr(args, name) < 1:
            print(f"error: --{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}", file=sys.stderr)
            return 2
    torch.set_num_threads(args.threads)
    names = DEFAULT_METHODS if args.methods == "all" else tuple(m.strip() for m in args.methods.split(",") if m)
    t0 = time.perf_counter()
    try:
        data = load_eval_data(args.dataset, num_words=args.words, num_sentences=args.sentences)
        methods = parse_methods(names, data.database.shape[1], seed=args.seed,
                                matryoshka_steps=args.matryoshka_steps)
        rows = evaluate(data, methods, k=args.k, num_queries=min(args.queries, data.database.shape[0]),
                        rescore_factor=args.rescore_factor, rescore_with=args.rescore_with,
                        index_kind=args.index, analogy_vocab=args.analogy_vocab,
                        max_analogies=args.max_analogies, threads=args.threads, seed=args.seed)
    except (ValueError, ModuleNotFoundError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    table = format_table(rows, markdown=not args.plain)
    n, d = data.database.shape
    print(f"# {args.dataset}: database {n} x {d}, word vocabulary {len(data.words.words)}, "
          f"{min(args.queries, n)} queries, recall@{args.k}, rescoring x{args.rescore_factor} with "
          f"{args.rescore_with}, {args.index} index, {args.threads} thread(s), {time.perf_counter() - t0:.0f} s")
    print(table)
    if args.csv:
        write_csv(rows, args.csv)
    if args.markdown:
        with open(args.markdown, "w") as fh:
            fh.write(format_table(rows, markdown=True) + "\n")
    return 0
