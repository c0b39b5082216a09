"""``neuromorph lsm``: liquid state machine on sklearn digits presented row by row.

Example::

    python -m neuromorph lsm                                # N=1000, K=100, ~1 minute on 2 CPU cores
    python -m neuromorph lsm --groups 4 --group-size 250    # cortical groups feeding the central reservoir

Each 8x8 image is fed as 8 input channels, one row per ``--hold`` steps. The reservoir states (spike traces
sampled at the end of every row, or mean+final traces with ``--features both``) train a ridge readout on 75%
of the images (regularisation chosen on a 20% validation split of them); accuracy is reported on the other
25%, beside a ridge readout on the raw pixels. Writes ``lsm_raster.png``, ``lsm_rates.png`` and
``lsm_results.json`` into ``--out``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from neuromorph.models.lsm import FEATURES, LiquidStateMachine, RidgeReadout, digits_rows, split_indices
from neuromorph.utils import seed_everything
from neuromorph.viz import firing_rates, plot_raster, plot_rate_histogram
from neuromorph.cli._args import positive_int


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "lsm",
        help="liquid state machine + ridge readout on digits shown row by row",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--neurons", type=positive_int, default=1000, help="central reservoir size N (default 1000)")
    p.add_argument("--k", type=positive_int, default=100, help="recurrent synapses per neuron (default 100)")
    p.add_argument("--hold", type=positive_int, default=4, help="steps each image row is held (default 4)")
    p.add_argument("--tau", type=float, default=20.0, help="membrane time constant in steps (default 20)")
    p.add_argument("--input-weight", type=float, default=1.0, help="input projection scale (default 1)")
    p.add_argument("--groups", type=int, default=0, help="cortical groups feeding the reservoir (default 0)")
    p.add_argument("--group-size", type=positive_int, default=250, help="neurons per group (default 250)")
    p.add_argument(
        "--no-split-inputs",
        action="store_true",
        help="with groups: every group sees all 8 input channels (default: group g sees channels "
        "c with c %% groups == g)",
    )
    p.add_argument(
        "--central-input",
        action="store_true",
        help="with groups: also project the input straight onto the central reservoir",
    )
    p.add_argument(
        "--features",
        choices=FEATURES,
        default="samples",
        help="readout features: traces at each row end (samples), mean, final or both",
    )
    p.add_argument(
        "--images", type=positive_int, default=None, help="use only the first N of the 1797 images (quick runs)"
    )
    p.add_argument("--seed", type=int, default=0, help="network and split seed")
    p.add_argument("--threads", type=positive_int, default=None, help="torch CPU threads (default: torch's)")
    p.add_argument("--out", type=Path, default=Path("runs/lsm"), help="output folder for PNGs and JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.groups < 0:
        raise ValueError(f"--groups must be >= 0, got {args.groups}")
    seed_everything(args.seed)
    x, y = digits_rows(hold=args.hold)
    if args.images is not None:
        if args.images < 20:
            raise ValueError(f"--images must be at least 20, got {args.images}")
        x, y = x[:, : args.images], y[: args.images]
    train_idx, test_idx = split_indices(len(y), 0.25, args.seed)
    t0 = time.perf_counter()
    lsm = LiquidStateMachine(
        8,
        n_neurons=args.neurons,
        k=args.k,
        tau=args.tau,
        input_weight=args.input_weight,
        n_groups=args.groups,
        group_size=args.group_size,
        split_inputs=not args.no_split_inputs,
        central_input=args.central_input,
        seed=args.seed,
    )
    build_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    feats = lsm.features(x, mode=args.features, sample_every=args.hold)
    sim_s = time.perf_counter() - t0
    readout = RidgeReadout(feats.shape[1], 10).fit(feats[train_idx], y[train_idx], seed=args.seed)
    acc = readout.accuracy(feats[test_idx], y[test_idx])
    train_acc = readout.accuracy(feats[train_idx], y[train_idx])
    pixels = x[:: args.hold].permute(1, 0, 2).reshape(len(y), -1)
    pix = RidgeReadout(64, 10).fit(pixels[train_idx], y[train_idx], seed=args.seed)
    pix_acc = pix.accuracy(pixels[test_idx], y[test_idx])

    spikes, _, _, _ = lsm.run(x[:, test_idx[:64]])
    assert spikes is not None
    rates = {"central": firing_rates(spikes[..., lsm.central_offset :])}
    if args.groups:
        rates["groups"] = firing_rates(spikes[..., : lsm.central_offset])
    args.out.mkdir(parents=True, exist_ok=True)
    raster = plot_raster(
        spikes,
        args.out / "lsm_raster.png",
        sample=0,
        max_neurons=300,
        title=f"LSM raster (digit {int(y[test_idx[0]])})",
    )
    hist = plot_rate_histogram(rates, args.out / "lsm_rates.png", title="LSM firing rates (64 test digits)")
    result = {
        "neurons_total": lsm.n_total,
        "synapses": lsm.num_synapses,
        "k": args.k,
        "hold": args.hold,
        "groups": args.groups,
        "split_inputs": not args.no_split_inputs,
        "central_input": args.central_input,
        "features": args.features,
        "feature_dim": feats.shape[1],
        "ridge_alpha": readout.alpha,
        "val_scores": readout.val_scores,
        "test_accuracy": acc,
        "train_accuracy": train_acc,
        "pixel_ridge_test_accuracy": pix_acc,
        "mean_rate_per_step": float(spikes.mean()),
        "build_s": build_s,
        "simulate_s": sim_s,
        "images": len(y),
        "steps_per_image": int(x.shape[0]),
    }
    (args.out / "lsm_results.json").write_text(json.dumps(result, indent=1))
    print(
        f"LSM: {lsm.n_total} neurons, {lsm.num_synapses} synapses, {args.features} features "
        f"({feats.shape[1]}), ridge alpha {readout.alpha:g}"
    )
    print(f"test accuracy {acc:.4f} (train {train_acc:.4f}); ridge on raw pixels {pix_acc:.4f}")
    print(
        f"mean rate {result['mean_rate_per_step']:.4f} spikes/step; build {build_s:.1f} s, "
        f"simulation of {len(y)} images x {x.shape[0]} steps {sim_s:.1f} s"
    )
    print(f"saved {raster}, {hist}, {args.out / 'lsm_results.json'}")
    return 0
