"""``neuromorph compress``: fit every method on a fit split, search a database split with held-out queries,
print one table and optionally write JSON Lines rows.

Example::

    python -m neuromorph compress --dataset glove --words 100000 --json runs/glove.jsonl
    python -m neuromorph compress --dataset minilm --words 111000 --fit 10000 --json runs/minilm.jsonl
    python -m neuromorph compress --methods sign,itq48,rabitq2-50-itq,faiss-pq10 --words 20000
"""

from __future__ import annotations

import argparse
import sys
import time


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "compress",
        help="benchmark embedding compression against FAISS (fit/db/query splits)",
        description="Fit compression methods on a fit split, search a disjoint database "
        "split with held-out queries and report bytes/vector, recall@10 "
        "(plain, x10 and x50 float rescoring), queries/s at batch 1 and 256, "
        "build time and word-similarity / analogy scores.",
    )
    p.add_argument("--dataset", choices=("glove", "minilm"), default="glove")
    p.add_argument(
        "--words",
        type=int,
        default=None,
        help="pool size: GloVe's most frequent words (default 100000) or MiniLM texts (default 111000); "
        "split into fit, queries and database",
    )
    p.add_argument("--fit", type=int, default=None, help="fit-split size (default min(20000, pool // 10))")
    p.add_argument("--queries", type=int, default=1000, help="held-out queries (default 1000)")
    p.add_argument(
        "--methods",
        default="default",
        help="comma-separated method names (neuromorph.compress.methods); 'default' = the dataset's list",
    )
    p.add_argument("--batch1-queries", type=int, default=100, help="queries timed one at a time (default 100)")
    p.add_argument("--threads", type=int, default=1, help="FAISS / torch threads (default 1)")
    p.add_argument("--analogy-vocab", type=int, default=30_000)
    p.add_argument("--max-analogies", type=int, default=5000)
    p.add_argument("--matryoshka-steps", type=int, default=400)
    p.add_argument("--no-word-metrics", action="store_true", help="skip WS353 / SimLex / analogy")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default=None, help="write one JSON object per method (JSON Lines) to this path")
    p.add_argument("--markdown", default=None, help="also write the table to this markdown file")
    p.add_argument("--plain", action="store_true", help="print an aligned text table instead of markdown")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from neuromorph.compress.evaluate import evaluate, format_table, write_json_rows
    from neuromorph.compress.methods import DEFAULT_METHODS, parse_methods
    from neuromorph.compress.splits import MINILM_POOL, load_splits

    pool = args.words if args.words is not None else (100_000 if args.dataset == "glove" else MINILM_POOL)
    num_fit = args.fit if args.fit is not None else min(20_000, pool // 10)
    for name, value in (
        ("words", pool),
        ("fit", num_fit),
        ("queries", args.queries),
        ("threads", args.threads),
        ("batch1-queries", args.batch1_queries),
        ("analogy-vocab", args.analogy_vocab),
        ("max-analogies", args.max_analogies),
        ("matryoshka-steps", args.matryoshka_steps),
    ):
        if value < 1:
            print(f"error: --{name} must be >= 1, got {value}", file=sys.stderr)
            return 2
    names = (
        DEFAULT_METHODS[args.dataset]
        if args.methods == "default"
        else tuple(m.strip() for m in args.methods.split(",") if m.strip())
    )
    t0 = time.perf_counter()
    try:
        splits = load_splits(
            args.dataset, pool, num_fit, args.queries, args.seed, word_metrics=not args.no_word_metrics
        )
        methods = parse_methods(names, splits.database.shape[1], seed=args.seed, matryoshka_steps=args.matryoshka_steps)
        rows = evaluate(
            splits,
            methods,
            batch1_queries=args.batch1_queries,
            threads=args.threads,
            word_metrics=not args.no_word_metrics,
            analogy_vocab=args.analogy_vocab,
            max_analogies=args.max_analogies,
            seed=args.seed,
        )
    except (ValueError, ModuleNotFoundError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    n, d = splits.database.shape
    print(
        f"# {args.dataset}: fit {splits.fit.shape[0]}, database {n} x {d}, {splits.queries.shape[0]} held-out "
        f"queries, {args.threads} thread(s), {time.perf_counter() - t0:.0f} s"
    )
    table = format_table(rows, markdown=not args.plain)
    print(table)
    if args.json:
        write_json_rows(rows, args.json)
    if args.markdown:
        with open(args.markdown, "w") as fh:
            fh.write(format_table(rows) + "\n")
    return 0
