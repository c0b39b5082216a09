"""``neuromorph lm``: character-level language models on gensim's ``head500.noblanks.cor`` (docs/language_model.md).

    neuromorph lm --model both --wall-s 720 --sample 300 --out runs/lm        # spiking vs non-spiking, same time
    neuromorph lm --model spiking --steps 2000 --T 4 --json spiking.json
    neuromorph lm --model transformer --steps 50 --max-chars 50000 --dim 32   # a quick look

``--model both`` trains the spiking transformer and its same-size non-spiking twin in turns in one process, each
for the same training wall time (``--wall-s``) or number of steps (``--steps``). Writes ``OUT/curve.png``
(validation bits/char against step and wall time), ``OUT/result.json`` (or ``--json``), ``OUT/report.md``
(markdown tables: summary, synaptic operations per layer, spike rates, samples) and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os

from neuromorph.cli._args import non_negative_int, positive_float, positive_int
from neuromorph.models.spiking_lm import ATTENTIONS, RESIDUALS


def format_table(result: dict) -> str:
    """The summary table (one row per model) of a :func:`neuromorph.tasks.char_lm.run_char_lm` result."""
    lines = [
        f"{'model':<24} {'params':>8} {'steps':>7} {'train s':>8} {'chars/s':>8} {'valid bpc':>9} "
        f"{'test bpc':>8} {'ACs/char':>10} {'MACs/char':>10}"
    ]
    for entry in result["models"].values():
        total = entry["efficiency"]["layers"]["total"]
        lines.append(
            f"{entry['label']:<24} {entry['parameters']:>8d} {entry['steps']:>7d} {entry['train_s']:>8.0f} "
            f"{entry['chars_per_s']:>8.0f} {entry['valid_bpc']:>9.3f} {entry['test_bpc']:>8.3f} "
            f"{total['acs']:>10.0f} {total['macs']:>10.0f}"
        )
    return "\n".join(lines)


def format_markdown(result: dict) -> str:
    """Markdown tables of a :func:`neuromorph.tasks.char_lm.run_char_lm` result: the summary, the per-layer
    synaptic operations per character of each model, the spike rate of every LIF layer, and the samples."""
    models = result["models"]
    rows = [
        "| model | parameters | training steps | training wall time (s) | characters/s | valid bits/char | "
        "test bits/char | ACs / char | MACs / char | energy / char (45 nm est.) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for m in models.values():
        total = m["efficiency"]["layers"]["total"]
        rows.append(
            f"| {m['label']} | {m['parameters']:,} | {m['steps']:,} | {m['train_s']:.0f} | "
            f"{m['chars_per_s']:.0f} | {m['valid_bpc']:.3f} | {m['test_bpc']:.3f} | {total['acs']:,.0f} | "
            f"{total['macs']:,.0f} | {1e6 * total['energy_uj']:,.0f} pJ |"
        )
    for m in models.values():
        eff = m["efficiency"]
        rows += [
            "",
            f"**{m['label']}**: synaptic operations per character (window {eff['window']})",
            "",
            "| layer | input non-zero rate | ACs / char | MACs / char | dense / char |",
            "|---|---:|---:|---:|---:|",
        ]
        for name, r in eff["layers"].items():
            rows.append(f"| {name} | {r['input_rate']:.3f} | {r['acs']:,.0f} | {r['macs']:,.0f} | {r['dense']:,.0f} |")
        rows.append(
            f"| attention products (activation x activation, dense) | | | | {eff['attention_products_per_char']:,.0f} |"
        )
        rows.append(f"| attention exponentials (softmax) | | | | {eff['attention_exponentials_per_char']:,.0f} |")
        if "spike_rates" in eff:
            rows += ["", "| LIF layer | spike rate (spikes / neuron / step) |", "|---|---:|"]
            rows += [f"| {name} | {rate:.3f} |" for name, rate in eff["spike_rates"].items()]
    if result.get("ngram_test_bpc"):
        rows += ["", "| n-gram reference (context length) | test bits/char |", "|---|---:|"]
        rows += [f"| {k} | {v:.3f} |" for k, v in result["ngram_test_bpc"].items()]
    for m in models.values():
        if "sample" in m:
            s = m["sample"]
            rows += [
                "",
                f"**{m['label']}**, temperature {s['temperature']}, prompt = the first "
                f"{len(s['prompt'])} test characters:",
                "",
                "```",
                s["prompt"] + " | " + s["continuation"],
                "```",
            ]
    return "\n".join(rows) + "\n"


def _run(args: argparse.Namespace) -> int:
    import torch

    from neuromorph.data.char_corpus import load_char_corpus
    from neuromorph.tasks.char_lm import LMConfig, plot_learning_curves, run_char_lm

    if (args.wall_s is None) == (args.steps is None):
        raise SystemExit("neuromorph lm: give exactly one of --wall-s and --steps")
    torch.set_num_threads(args.threads)

    def windows(flag: str, text: str | None) -> tuple[int, ...] | None:
        try:
            return None if text is None else tuple(int(w) for w in text.split(","))
        except ValueError:
            raise SystemExit(f"neuromorph lm: {flag} must be comma-separated ints, got {text!r}") from None

    config = LMConfig(
        head_windows=windows("--head-windows", args.head_windows),
        transformer_head_windows=windows("--transformer-head-windows", args.transformer_head_windows),
        dim=args.dim,
        depth=args.depth,
        num_heads=args.heads,
        context=args.context,
        T=args.T,
        residual=args.residual,
        attention=args.attention,
        scale=args.scale,
        batch_size=args.batch_size,
        lr=args.lr,
        transformer_lr=args.transformer_lr,
        turn_s=args.turn_s,
        curve_points=args.curve_points,
        curve_chars=args.curve_chars,
    )
    corpus = load_char_corpus(max_chars=args.max_chars)
    kinds = ("spiking", "transformer") if args.model == "both" else (args.model,)
    show = False if args.no_progress else None
    result, _ = run_char_lm(
        kinds,
        corpus,
        config,
        wall_s=args.wall_s,
        steps=args.steps,
        seed=args.seed,
        sample_chars=args.sample,
        temperature=args.temperature,
        show_progress=show,
        ngram_orders=range(5) if args.ngram else (),
        log=lambda line: print(line, flush=True),
    )
    out = args.out or os.path.join("runs", f"lm_{args.model}_seed{args.seed}")
    os.makedirs(out, exist_ok=True)
    png = plot_learning_curves(
        {k: m["curve"] for k, m in result["models"].items()},
        os.path.join(out, "curve.png"),
        title=f"{corpus.name}: validation bits/char (seed {args.seed})",
    )
    json_path = args.json or os.path.join(out, "result.json")
    os.makedirs(os.path.dirname(os.path.abspath(json_path)), exist_ok=True)
    with open(json_path, "w") as f:
        json.dump(result, f, indent=1)
    with open(os.path.join(out, "report.md"), "w") as f:
        f.write(format_markdown(result))
    print(format_table(result))
    for entry in result["models"].values():
        if "sample" in entry:
            s = entry["sample"]
            print(f"\n{entry['label']} (temperature {s['temperature']}): {s['prompt']!r} -> {s['continuation']!r}")
    print(f"wrote {json_path}, {png}, {os.path.join(out, 'report.md')}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "lm",
        help="character-level spiking transformer LM vs a same-size transformer",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--model", choices=("spiking", "transformer", "both"), default="both")
    budget = p.add_mutually_exclusive_group()
    budget.add_argument(
        "--wall-s", dest="wall_s", type=positive_float, default=None, help="training wall time per model in seconds"
    )
    budget.add_argument("--steps", type=positive_int, default=None, help="training steps per model")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="folder for curve.png and result.json (default runs/lm_MODEL_seedS)")
    p.add_argument("--json", default=None, help="result JSON path (default OUT/result.json)")
    p.add_argument("--sample", type=non_negative_int, default=0, help="characters to sample from each model (0: none)")
    p.add_argument("--temperature", type=positive_float, default=0.8)
    p.add_argument("--dim", type=positive_int, default=128)
    p.add_argument("--depth", type=positive_int, default=2)
    p.add_argument("--heads", type=positive_int, default=4)
    p.add_argument("--context", type=positive_int, default=64)
    p.add_argument("--T", type=positive_int, default=2, help="time steps of the spiking model")
    p.add_argument(
        "--residual",
        choices=RESIDUALS,
        default="spikes",
        help="spiking model: the residual stream sums spikes, or membrane drive (the membrane shortcut)",
    )
    p.add_argument(
        "--attention",
        choices=ATTENTIONS,
        default="average",
        help="spiking model: average the spike-count attention scores (Spikformer) or take their causal softmax",
    )
    p.add_argument(
        "--scale",
        type=positive_float,
        default=2.0,
        help="spiking model: attention scale s before the attention LIF (2; 1 was chosen for --attention softmax)",
    )
    p.add_argument(
        "--head-windows",
        dest="head_windows",
        default=None,
        help="spiking model: comma-separated attention window per head, 0 = unlimited (e.g. 2,4,16,0)",
    )
    p.add_argument(
        "--transformer-head-windows",
        dest="transformer_head_windows",
        default=None,
        help="the same for the non-spiking model",
    )
    p.add_argument("--batch-size", dest="batch_size", type=positive_int, default=32)
    p.add_argument("--lr", type=positive_float, default=2e-3, help="peak learning rate (cosine to lr/10)")
    p.add_argument(
        "--transformer-lr",
        dest="transformer_lr",
        type=positive_float,
        default=None,
        help="the non-spiking model's peak learning rate (default: --lr)",
    )
    p.add_argument(
        "--turn-s",
        dest="turn_s",
        type=positive_float,
        default=5.0,
        help="seconds of training per model per turn (--wall-s)",
    )
    p.add_argument("--curve-points", dest="curve_points", type=positive_int, default=12)
    p.add_argument(
        "--curve-chars",
        dest="curve_chars",
        type=positive_int,
        default=20_000,
        help="validation characters scored for each learning-curve point",
    )
    p.add_argument(
        "--max-chars",
        dest="max_chars",
        type=positive_int,
        default=None,
        help="use only the first that many characters of the corpus (quick runs)",
    )
    p.add_argument(
        "--ngram",
        action="store_true",
        help="also score add-0.1 smoothed n-gram references (orders 0-4, fitted on the training block)",
    )
    p.add_argument("--threads", type=positive_int, default=1)
    p.add_argument("--no-progress", dest="no_progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=_run)
