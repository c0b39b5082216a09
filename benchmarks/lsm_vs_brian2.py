"""Steps/s of the neuromorph LIF reservoir vs Brian2 on the same network, side by side in one run.

Setup (once; brian2 2.9 needs numpy < 2.4, so it lives in its own venv and runs in a subprocess — the
project's environment is not touched)::

    python -m venv /tmp/brian-venv && /tmp/brian-venv/bin/pip install brian2 'numpy<2.4'

Run (the neuromorph part in this interpreter, the Brian2 part in ``--brian-python``)::

    python benchmarks/lsm_vs_brian2.py --sizes 1000,10000,100000 --k 100 --steps 500
    python benchmarks/lsm_vs_brian2.py --propagation      # csr vs event synapse paths only

The network for each ``N``: the central reservoir of :class:`neuromorph.models.lsm.LiquidStateMachine`
(3-D grid, 80/20 E/I, ``K`` distance-dependent synapses per neuron, Dale's law), dt = 1 ms, tau = 20 ms,
threshold 1, reset 0, refractory 2 ms, one sample (B = 1), driven by a constant per-neuron current
``I_i ~ U(drive_lo, drive_hi)`` (in threshold units). The synapse lists, weights and drives are written to an
``.npz`` file that the Brian2 worker loads, so both simulators run exactly the same connectivity.

Brian2 model (runtime code generation target ``numpy``, no compiler needed)::

    dv/dt = (I - v) / tau : 1 (unless refractory)       method="exact"
    threshold v >= 1, reset v = 0, refractory 2 ms;  Synapses on_pre: v_post += w / beta

neuromorph kernel (``reservoir_step``): ``v <- beta v + (1 - beta) I + W s_{t-1}``. Brian2 adds a spike's
weight in the step it occurs and decays it once before the next threshold test, hence ``w / beta`` there;
the remaining difference is the refractory handling (Brian2 still adds synaptic input to refractory neurons),
so the firing rates are close but not identical — both are printed. Timing: ``--steps`` steps after a 10-step
warm-up, repeated ``--repeats`` times (the network keeps running), fastest repeat kept — the machine is shared,
so the best repeat is the least disturbed one (Brian2: ``Network.run``; neuromorph: a Python loop of
``reservoir_step`` with ``--threads`` torch threads). Each ``Network.run`` call of Brian2 has a fixed
preparation cost (~0.1-0.3 s here), measured with a 0 ms run and subtracted: Brian2's steps/s is the marginal
rate ``steps / (run_s - overhead_s)`` (the rate including the overhead is printed too). The ratio is
neuromorph steps/s over Brian2's marginal steps/s.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

TAU, DT_MS, THRESHOLD, REFRACTORY = 20.0, 1.0, 1.0, 2


def brian_worker(npz_path: str, steps: int, repeats: int) -> dict:
    """Runs inside the Brian2 venv: build the network from ``npz_path``, time ``steps`` steps."""
    import brian2 as b2

    b2.prefs.codegen.target = "numpy"
    b2.defaultclock.dt = DT_MS * b2.ms
    d = np.load(npz_path)
    n = int(d["n"])
    beta = float(np.exp(-DT_MS / TAU))
    t0 = time.perf_counter()
    G = b2.NeuronGroup(n, "dv/dt = (I - v) / tau : 1 (unless refractory)\nI : 1\ntau : second",
                       threshold="v >= 1", reset="v = 0", refractory=REFRACTORY * b2.ms, method="exact")
    G.tau = TAU * b2.ms
    G.I = d["drive"]
    S = b2.Synapses(G, G, "w : 1", on_pre="v_post += w")
    S.connect(i=d["pre"], j=d["post"])
    S.w = d["w"] / beta
    M = b2.SpikeMonitor(G, record=False)
    net = b2.Network(G, S, M)
    build_s = time.perf_counter() - t0
    net.run(10 * DT_MS * b2.ms)  # warm-up: code generation, first-run preparation
    overhead_s = float("inf")
    for _ in range(repeats):  # fixed cost of one Network.run call (preparation), measured with a 0 ms run
        t0 = time.perf_counter()
        net.run(0 * b2.ms)
        overhead_s = min(overhead_s, time.perf_counter() - t0)
    count0 = int(M.num_spikes)
    run_s = float("inf")
    for _ in range(repeats):  # the network keeps running; the fastest repeat counts
        t0 = time.perf_counter()
        net.run(steps * DT_MS * b2.ms)
        run_s = min(run_s, time.perf_counter() - t0)
    rate = (int(M.num_spikes) - count0) / (n * steps * repeats)
    marginal = steps / max(run_s - overhead_s, 1e-9)
    return {"steps_per_s": marginal, "steps_per_s_with_run_overhead": steps / run_s, "rate": rate,
            "build_s": build_s, "run_s": run_s, "run_overhead_s": overhead_s}


def neuromorph_run(n: int, k: int, steps: int, threads: int, methods: list[str], drive: tuple[float, float],
                   seed: int, npz_path: str, repeats: int) -> dict:
    """Build the network once, write it to ``npz_path`` for Brian2, time ``steps`` steps per method."""
    import torch

    from neuromorph.models.lsm import LiquidStateMachine
    from neuromorph.models.reservoir import ReservoirParams, init_state, reservoir_step

    torch.set_num_threads(threads)
    t0 = time.perf_counter()
    lsm = LiquidStateMachine(1, n_neurons=n, k=k, tau=TAU, threshold=THRESHOLD, refractory=REFRACTORY, seed=seed)
    build_s = time.perf_counter() - t0
    syn = lsm.synapses
    g = torch.Generator().manual_seed(seed + 1)
    current = drive[0] + (drive[1] - drive[0]) * torch.rand(1, n, generator=g)
    beta = float(np.exp(-DT_MS / TAU))
    x = (1 - beta) * current
    pre = torch.repeat_interleave(torch.arange(n), syn.crow[1:] - syn.crow[:-1])
    np.savez(npz_path, n=n, pre=pre.numpy().astype(np.int32), post=syn.col.numpy().astype(np.int32),
             w=syn.val.numpy().astype(np.float64), drive=current[0].numpy().astype(np.float64))
    out = {"synapses": lsm.num_synapses, "build_s": build_s}
    base = lsm.params()
    for method in methods:
        p = ReservoirParams(base.beta, base.threshold, base.synapses, None, base.v_reset, base.refractory,
                            base.trace_decay, method)
        st = init_state(1, n)
        for _ in range(10):  # warm-up, same as Brian2
            _, st = reservoir_step(x, st, p)
        count = torch.zeros(())  # spike counter, like Brian2's SpikeMonitor(record=False)
        run_s = float("inf")
        for _ in range(repeats):  # the network keeps running; the fastest repeat counts
            t0 = time.perf_counter()
            for _ in range(steps):
                s, st = reservoir_step(x, st, p)
                count += s.sum()
            run_s = min(run_s, time.perf_counter() - t0)
        out[method] = {"steps_per_s": steps / run_s, "rate": float(count) / (n * steps * repeats), "run_s": run_s}
    return out


def propagation_table(k: int, threads: int, repeats: int) -> None:
    """Time one synaptic propagation ``s @ W`` by the "csr" and "event" paths for random spikes."""
    import torch

    from neuromorph.models.reservoir import build_connectivity, make_synapses, propagate

    torch.set_num_threads(threads)
    print(f"# propagation s @ W, K={k}, torch threads={threads}, best of {repeats} x 20 calls, ms per call")
    print(f"{'N':>6} {'B':>4} {'rate':>5} {'csr ms':>8} {'event ms':>9}")
    for n, batches in ((1000, (1, 64, 512)), (10000, (1, 32))):
        g = torch.Generator().manual_seed(0)
        pre, post, inh = build_connectivity(n, k, generator=g)
        syn = make_synapses(pre, post, torch.rand(pre.numel(), generator=g) * torch.where(inh[pre], -1.0, 1.0),
                            n, n)
        for b in batches:
            for rate in (0.01, 0.05, 0.2):
                s = (torch.rand(b, n, generator=g) < rate).float()
                ms = {}
                for m in ("csr", "event"):
                    best = float("inf")
                    for _ in range(repeats):
                        t0 = time.perf_counter()
                        for _ in range(20):
                            propagate(s, syn, m)
                        best = min(best, (time.perf_counter() - t0) / 20)
                    ms[m] = best * 1e3
                print(f"{n:>6} {b:>4} {rate:>5.2f} {ms['csr']:>8.3f} {ms['event']:>9.3f}", flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="1000,10000,100000", help="comma-separated N values")
    ap.add_argument("--k", type=int, default=100, help="synapses per neuron")
    ap.add_argument("--steps", type=int, default=500, help="timed steps per repeat (dt = 1 ms)")
    ap.add_argument("--csr-max", type=int, default=10000, help="skip the csr method for N above this (slow)")
    ap.add_argument("--repeats", type=int, default=3, help="timed repeats per simulator; the fastest counts")
    ap.add_argument("--threads", type=int, default=1, help="torch threads for neuromorph")
    ap.add_argument("--methods", default="auto,csr,event", help="neuromorph propagation methods to time")
    ap.add_argument("--drive", default="1.0,1.5", help="constant drive range lo,hi (threshold units)")
    ap.add_argument("--brian-python", default="/tmp/brian-venv/bin/python",
                    help="python of a venv with brian2 and numpy<2.4 ('' skips Brian2)")
    ap.add_argument("--brian-max", type=int, default=100000, help="skip Brian2 for N above this")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default="", help="also write the results to this JSON file")
    ap.add_argument("--propagation", action="store_true",
                    help="only time the csr vs event propagation paths (no Brian2)")
    ap.add_argument("--brian-worker", nargs=3, metavar=("NPZ", "STEPS", "REPEATS"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.brian_worker:
        print(json.dumps(brian_worker(args.brian_worker[0], int(args.brian_worker[1]), int(args.brian_worker[2]))))
        return 0
    if args.propagation:
        propagation_table(args.k, args.threads, args.repeats)
        return 0
    sizes = [int(s) for s in args.sizes.split(",") if s]
    methods = [m for m in args.methods.split(",") if m]
    bad = [m for m in methods if m not in ("auto", "csr", "event")]
    if bad:
        raise SystemExit(f"--methods must be a comma list of auto,csr,event; got {bad}")
    lo, hi = (float(v) for v in args.drive.split(","))
    results = []
    print(f"# K={args.k}, steps={args.steps} (best of {args.repeats}), dt=1 ms, tau={TAU} ms, B=1, "
          f"torch threads={args.threads}, Brian2 target=numpy ({args.brian_python or 'skipped'})")
    print(f"{'N':>7} {'synapses':>10} {'simulator':>18} {'steps/s':>10} {'rate/step':>10} {'build s':>8}")
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            npz = os.path.join(tmp, f"net_{n}.npz")
            row: dict = {"n": n, "k": args.k}
            ms = [m for m in methods if m != "csr" or n <= args.csr_max]
            nm = neuromorph_run(n, args.k, args.steps, args.threads, ms, (lo, hi), args.seed, npz, args.repeats)
            for m in ms:
                r = row[f"neuromorph_{m}"] = nm[m]
                print(f"{n:>7} {nm['synapses']:>10} {'neuromorph ' + m:>18} {r['steps_per_s']:>10.1f} "
                      f"{r['rate']:>10.4f} {nm['build_s']:>8.1f}", flush=True)
            if args.brian_python and n <= args.brian_max:
                out = subprocess.run([args.brian_python, os.path.abspath(__file__), "--brian-worker", npz,
                                      str(args.steps), str(args.repeats)], capture_output=True, text=True, check=False)
                if out.returncode != 0:
                    print(f"{n:>7} brian2 failed: {out.stderr.strip().splitlines()[-1:]}", flush=True)
                else:
                    r = json.loads(out.stdout.strip().splitlines()[-1])
                    row["brian2_numpy"] = r
                    print(f"{n:>7} {'':>10} {'brian2 numpy':>18} {r['steps_per_s']:>10.1f} {r['rate']:>10.4f} "
                          f"{r['build_s']:>8.1f}  (with run() overhead: "
                          f"{r['steps_per_s_with_run_overhead']:.1f} steps/s)", flush=True)
                    for m in ms:
                        ratio = row[f"neuromorph_{m}"]["steps_per_s"] / r["steps_per_s"]
                        row[f"ratio_{m}"] = ratio
                        print(f"{n:>7} {'':>10} {'ratio ' + m:>18} {ratio:>10.2f}x", flush=True)
            else:
                print(f"{n:>7} brian2 skipped (N > --brian-max or no --brian-python)", flush=True)
            results.append(row)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
