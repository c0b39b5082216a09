"""The full embedding-compression table (GloVe 6B 50d and MiniLM), plus a rescoring-factor sweep.

    python benchmarks/compress_eval.py                 # GloVe top 100k words + MiniLM corpus
    python benchmarks/compress_eval.py --dataset glove --words 20000

Writes ``<out>/<dataset>.csv`` and ``<out>/<dataset>.md`` (default ``runs/compress``) and prints the tables.
Every figure in docs/compress.md comes from this script.
"""
from __future__ import annotations

import argparse
import os
import time

import torch

from neuromorph.compress.evaluate import evaluate, format_table, load_eval_data, parse_methods, write_csv

# Sigma-Delta "repeat" frames need num_bits = padded_dim * lambda: 64 * lambda for GloVe-50, 512 * lambda for
# MiniLM-384; the Gaussian frame takes any multiple of its block length.
METHODS = {
    "glove": ("float", "int8", "scalar5", "ternary", "thermo4", "sign", "simhash256", "simhash512", "matryoshka",
              "simhash240", "sdg1-240", "sdg2-240", "sdg3-240", "simhash1024", "sd1-1024", "sd2-1024", "sd3-1024",
              "simhash2048", "sd1-2048", "sd2-2048", "sd3-2048", "population8x4"),
    "minilm": ("float", "int8", "scalar5", "ternary", "thermo4", "sign", "simhash768", "matryoshka",
               "simhash240", "sdg1-240", "sdg2-240", "sdg3-240", "simhash2048", "sd1-2048", "sd2-2048", "sd3-2048",
               "simhash8192", "sd2-8192", "sd3-8192", "population8x4"),
}
SWEEP = (25, 50, 100)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", choices=("glove", "minilm", "both"), default="both")
    p.add_argument("--words", type=int, default=100_000)
    p.add_argument("--queries", type=int, default=1000)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default="runs/compress")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)
    for name in (("glove", "minilm") if args.dataset == "both" else (args.dataset,)):
        t0 = time.perf_counter()
        data = load_eval_data(name, num_words=args.words)
        n, d = data.database.shape
        rows = evaluate(data, parse_methods(METHODS[name], d), num_queries=min(args.queries, n),
                        rescore_factor=10, extra_rescore_factors=SWEEP, threads=args.threads)
        table = format_table(rows)
        sweep = ["| method | bytes/vec | R@10 Hamming % | " + " | ".join(f"rescored x{f} %" for f in (10, *SWEEP))
                 + " |", "|---" * (3 + 1 + len(SWEEP)) + "|"]
        for r in rows:
            if "recall_rescored" in r.metrics:
                vals = [r.metrics["recall_rescored"]] + [r.metrics[f"recall_rescored_x{f}"] for f in SWEEP]
                sweep.append(f"| {r.method} | {r.bytes_per_vector} | {100 * r.metrics['recall']:.1f} | "
                             + " | ".join(f"{100 * v:.1f}" for v in vals) + " |")
        head = (f"{name}: database {n} x {d}, {len(data.words.words)} vocabulary words, "
                f"{min(args.queries, n)} queries, {args.threads} thread(s), {time.perf_counter() - t0:.0f} s")
        print(head, table, "", "Rescoring sweep (recall@10 vs exact float top-10, float rescoring):",
              "\n".join(sweep), "", sep="\n", flush=True)
        write_csv(rows, os.path.join(args.out, f"{name}.csv"))
        with open(os.path.join(args.out, f"{name}.md"), "w") as fh:
            fh.write(f"{head}\n\n{table}\n\n" + "\n".join(sweep) + "\n")


if __name__ == "__main__":
    main()
