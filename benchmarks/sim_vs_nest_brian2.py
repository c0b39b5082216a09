"""Large LIF reservoir: neuromorph's compiled simulator vs NEST and Brian2 on the same network, interleaved.

Setup (once; each foreign simulator in its own venv, run as a subprocess, the project's environment untouched)::

    python -m venv /work/venvs/nest && /work/venvs/nest/bin/pip install nest-simulator numpy
    python -m venv /work/venvs/brian2 && /work/venvs/brian2/bin/pip install brian2 cython scipy 'numpy<2.4'

Run::

    python benchmarks/sim_vs_nest_brian2.py --sizes 10000,100000 --threads 1,2 --json sim.json

Network (one seed, exported to an ``.npz`` that every simulator loads): the central reservoir of
:class:`neuromorph.models.lsm.LiquidStateMachine` (3-D grid, 80/20 E/I, exactly ``K`` = 100 presynaptic
partners per neuron, Dale's law), dt = 1 ms, tau = 20 ms, threshold 1, reset 0, refractory 2 steps, synaptic
delay one step, a constant per-neuron drive ``I_i ~ U(lo, hi)`` (threshold units; steady-state membrane = I),
float64 everywhere. Models:

* neuromorph: :func:`neuromorph.models.reservoir_sim.simulate` (compiled, event-driven, ``threads`` threads),
  input ``x = (1 - e^{-1/tau}) I`` per step.
* NEST: ``iaf_psc_delta`` with C_m = tau_m = 20, E_L = V_reset = 0, V_th = 1, t_ref = 2, refractory_input=False,
  resolution 1 ms, delay 1 ms, I_e = I (the same exact-integration update); per-step spike counts must be
  identical to neuromorph's.
* Brian2 (``cython`` runtime and ``cpp_standalone``): the same discrete update written as Brian2 code, a
  ``run_regularly`` operation in the ``groups`` slot ``v = (beta v + (syn + x)) * int(r <= 0); r = clip(r - 1,
  0, r); syn = 0``, threshold ``v >= 1``, reset ``v = 0; r = 2``, ``on_pre: syn_post += w`` (collected after
  the threshold, consumed at the next step: delay one step). Brian2's built-in ``(unless refractory)`` could
  not be made to drop input as NEST does (measured: spike counts drift away within 30 steps whatever the
  refractory period and on_pre condition), hence the explicit form. Synaptic sums may run in another order,
  so Brian2 is compared by statistics: mean rate (within 10 %) and the two-sample KS distance of the
  per-neuron rates (per-step identity is reported too).

Protocol per cell (N, drive, threads): all workers are started and build their network (build time, and for
Brian2 code generation + compilation, are reported, not timed), then ``--repeats`` rounds, each running
``--steps`` steps in every simulator one after the other (round-robin: the shared machine's load hits all
alike); best round per simulator. Each simulator first runs 10 warm-up steps; the networks keep running across
rounds, except Brian2 standalone, whose binary restarts from the same state every round (its run time is the
binary's own measurement of the timed ``run``). Validation uses the first ``10 + steps`` steps of every
simulator (the same history). Brian2 ``cython`` is timed around ``Network.run`` (its per-call preparation
included); it has no threads. ``neuromorph_float32`` is the same simulator in float32 (the library's default
dtype; not bit-comparable with NEST's doubles, so compared by statistics). Memory per synapse:
resident-memory growth while the synapses are created, divided by their number (neuromorph: also the bytes of
the layouts it keeps: the simulator's int32-column CSR, and all three layouts of ``SparseSynapses``).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

TAU, THRESHOLD, REFRACTORY, WARMUP = 20.0, 1.0, 2, 10
# drive range U(lo, hi) per target rate and N, calibrated with neuromorph.models.reservoir_sim.simulate (the
# network is bistable near 0.04: 100k neurons jump from ~0.014 to ~0.05 between drives (2.8, 4.8) and (3.2, 4.4))
DRIVES = {"0.003": {10000: (1.1, 1.5), 100000: (1.1, 1.5)}, "0.04": {10000: (2.0, 3.0), 100000: (3.2, 4.4)}}


def drive_range(rate: str, n: int) -> tuple[float, float]:
    """The calibrated drive of the nearest calibrated size (by log ratio)."""
    table = DRIVES[rate]
    return table[min(table, key=lambda m: abs(math.log(m / n)))]
KINDS = ("neuromorph", "neuromorph_float32", "nest", "brian2_cython", "brian2_standalone")
PROTOCOL = "@@ "  # prefix of the worker's answer lines (NEST and Brian2 print banners and notes to stdout)


def read_answer(proc: subprocess.Popen) -> dict | None:
    """The next protocol line of a worker as a dict (other output is skipped), ``None`` when it ended."""
    for line in proc.stdout:
        if line.startswith(PROTOCOL):
            return json.loads(line[len(PROTOCOL):])
    return None


def rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


# ------------------------------------------------------------------------------------------------ the workers

class NeuromorphSim:
    def __init__(self, d: dict, threads: int, dtype_name: str = "float64") -> None:
        import torch

        from neuromorph.models.reservoir import ReservoirParams, init_state, make_synapses
        from neuromorph.neurons import native

        torch.set_num_threads(threads)
        dtype = getattr(torch, dtype_name)
        t0 = time.perf_counter()
        native.load_reservoir()
        self.compile_s = time.perf_counter() - t0
        n = int(d["n"])
        t0, before = time.perf_counter(), rss_bytes()
        syn = make_synapses(torch.from_numpy(d["pre"]).long(), torch.from_numpy(d["post"]).long(),
                            torch.from_numpy(d["w"]).to(dtype), n, n)
        self.rss_per_synapse = (rss_bytes() - before) / syn.val.numel()
        used = syn.crow.numel() * 8 + syn.col.numel() * 4 + syn.val.numel() * syn.val.element_size()  # int32 col
        held = used + sum(t.numel() * t.element_size() for t in (syn.pad_col, syn.pad_val, syn.w_t.values(),
                                                                 syn.w_t.col_indices(), syn.w_t.crow_indices()))
        self.bytes_per_synapse = {"simulator": used / syn.val.numel(), "all_layouts": held / syn.val.numel()}
        beta = torch.full((n,), math.exp(-1.0 / TAU), dtype=dtype)
        self.params = ReservoirParams(beta, torch.full((n,), THRESHOLD, dtype=dtype), syn, refractory=REFRACTORY)
        self.x = (-math.expm1(-1.0 / TAU) * torch.from_numpy(d["drive"])).reshape(1, n).to(dtype)
        self.state = init_state(1, n, dtype)
        self.threads = threads
        self.build_s = time.perf_counter() - t0
        self.counts: list[np.ndarray] = []
        self.per_neuron = np.zeros(n, dtype=np.int64)
        self.run(WARMUP)

    def run(self, steps: int) -> float:
        from neuromorph.models.reservoir_sim import simulate

        t0 = time.perf_counter()
        out = simulate(self.x, self.state, self.params, steps, threads=self.threads, backend="native")
        seconds = time.perf_counter() - t0
        self.state = out.state
        if sum(len(c) for c in self.counts) < WARMUP + 1:  # keep the validation window only
            self.counts.append(out.counts_per_step[:, 0].numpy())
            self.per_neuron += out.counts_per_neuron[0].numpy()
        return seconds


class NestSim:
    def __init__(self, d: dict, threads: int) -> None:
        import nest

        nest.verbosity = nest.VerbosityLevel.ERROR
        nest.ResetKernel()
        nest.SetKernelStatus({"resolution": 1.0, "local_num_threads": threads})
        self.nest, n = nest, int(d["n"])
        self.compile_s = 0.0
        t0 = time.perf_counter()
        nodes = nest.Create("iaf_psc_delta", n, params={
            "C_m": TAU, "tau_m": TAU, "E_L": 0.0, "V_reset": 0.0, "V_th": THRESHOLD, "V_m": 0.0,
            "t_ref": float(REFRACTORY), "refractory_input": False})
        nodes.I_e = d["drive"].tolist()
        first = int(nodes[0].global_id)
        pre, post = d["pre"].astype(np.int64) + first, d["post"].astype(np.int64) + first
        delay = np.ones(len(d["w"]))
        before = rss_bytes()
        nest.Connect(pre, post, "one_to_one", {"synapse_model": "static_synapse", "weight": d["w"], "delay": delay})
        self.rss_per_synapse = (rss_bytes() - before) / len(d["w"])
        self.recorder = nest.Create("spike_recorder")
        nest.Connect(nodes, self.recorder)
        nest.Prepare()
        self.build_s = time.perf_counter() - t0
        self.n, self.first = n, first
        self.run(WARMUP)

    def run(self, steps: int) -> float:
        t0 = time.perf_counter()
        self.nest.Run(float(steps))
        return time.perf_counter() - t0

    def window(self, steps: int) -> tuple[np.ndarray, np.ndarray]:
        ev = self.recorder.get("events")
        step = np.rint(np.asarray(ev["times"])).astype(np.int64) - 1  # a spike of step t is stamped t + 1 ms
        keep = step < steps
        senders = np.asarray(ev["senders"]).astype(np.int64)[keep] - self.first
        return np.bincount(step[keep], minlength=steps), np.bincount(senders, minlength=self.n)


def _brian_network(b2, d: dict, monitor: bool):
    """The reservoir as Brian2 code: the discrete update of ``reservoir_step`` in a ``run_regularly`` operation
    (slot ``groups``), threshold/reset, and synapses that add into ``syn`` (consumed at the next step)."""
    n = int(d["n"])
    G = b2.NeuronGroup(n, "v : 1\nr : 1\nsyn : 1\nx : 1 (constant)", threshold=f"v >= {THRESHOLD}",
                       reset=f"v = 0\nr = {REFRACTORY}", method="euler")
    G.x = -math.expm1(-1.0 / TAU) * d["drive"]
    G.run_regularly(f"v = (exp(-1.0 / {TAU}) * v + (syn + x)) * int(r <= 0)\nr = clip(r - 1, 0, r)\nsyn = 0",
                    when="groups")
    S = b2.Synapses(G, G, "w : 1", on_pre="syn_post += w")
    S.connect(i=d["pre"].astype(np.int32), j=d["post"].astype(np.int32))
    S.w = d["w"]
    M = b2.SpikeMonitor(G) if monitor else None
    return G, S, M


class BrianCythonSim:
    def __init__(self, d: dict, threads: int) -> None:
        import brian2 as b2

        if threads != 1:
            raise ValueError("the cython runtime target has no threads")
        b2.prefs.codegen.target = "cython"
        b2.defaultclock.dt = 1 * b2.ms
        self.b2, self.n = b2, int(d["n"])
        t0, before = time.perf_counter(), rss_bytes()
        G, S, self.M = _brian_network(b2, d, True)
        self.rss_per_synapse = (rss_bytes() - before) / len(d["w"])
        self.net = b2.Network(G, S, self.M)
        self.build_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        self.net.run(WARMUP * b2.ms)  # code generation + cython compilation (or its cache)
        self.compile_s = time.perf_counter() - t0

    def run(self, steps: int) -> float:
        t0 = time.perf_counter()
        self.net.run(steps * self.b2.ms)
        return time.perf_counter() - t0

    def window(self, steps: int) -> tuple[np.ndarray, np.ndarray]:
        step = np.rint(np.asarray(self.M.t / self.b2.ms)).astype(np.int64)
        keep = step < steps
        return (np.bincount(step[keep], minlength=steps),
                np.bincount(np.asarray(self.M.i)[keep].astype(np.int64), minlength=self.n))


class BrianStandaloneSim:
    def __init__(self, d: dict, threads: int, steps: int, directory: str) -> None:
        import brian2 as b2

        b2.set_device("cpp_standalone", directory=directory, build_on_run=False)
        b2.prefs.devices.cpp_standalone.openmp_threads = threads if threads > 1 else 0
        b2.defaultclock.dt = 1 * b2.ms
        self.b2, self.n, self.directory = b2, int(d["n"]), directory
        t0 = time.perf_counter()
        G, S, self.M = _brian_network(b2, d, True)
        net = b2.Network(G, S, self.M)
        net.run(WARMUP * b2.ms)
        net.run(steps * b2.ms)
        self.build_s = time.perf_counter() - t0
        self.rss_per_synapse = float("nan")  # the synapses live in the compiled binary
        t0 = time.perf_counter()
        b2.device.build(directory=directory, compile=True, run=False, with_output=False)
        self.compile_s = time.perf_counter() - t0
        self.ran = False

    def run(self, steps: int) -> float:
        self.b2.device.run(directory=self.directory, with_output=False, run_args=[])
        self.ran = True
        return float(self.b2.device._last_run_time)

    def window(self, steps: int) -> tuple[np.ndarray, np.ndarray]:
        step = np.rint(np.asarray(self.M.t / self.b2.ms)).astype(np.int64)
        keep = step < steps
        return (np.bincount(step[keep], minlength=steps),
                np.bincount(np.asarray(self.M.i)[keep].astype(np.int64), minlength=self.n))


def worker(kind: str, npz: str, threads: int, steps: int, out: str) -> int:
    """Build ``kind``'s network, print a JSON ready line, then answer ``run`` lines until ``done``."""
    d = dict(np.load(npz))
    if kind.startswith("neuromorph"):
        sim = NeuromorphSim(d, threads, "float32" if kind == "neuromorph_float32" else "float64")
    elif kind == "nest":
        sim = NestSim(d, threads)
    elif kind == "brian2_cython":
        sim = BrianCythonSim(d, threads)
    else:
        sim = BrianStandaloneSim(d, threads, steps, os.path.join(os.path.dirname(out), f"standalone_{threads}"))
    ready = {"build_s": sim.build_s, "compile_s": sim.compile_s, "rss_per_synapse": sim.rss_per_synapse,
             "bytes_per_synapse": getattr(sim, "bytes_per_synapse", None)}
    print(PROTOCOL + json.dumps(ready), flush=True)
    for line in sys.stdin:
        if line.strip() == "run":
            print(PROTOCOL + json.dumps({"seconds": sim.run(steps)}), flush=True)
        elif line.strip() == "done":
            break
    window = WARMUP + steps
    if kind.startswith("neuromorph"):
        per_step, per_neuron = np.concatenate(sim.counts)[:window], sim.per_neuron
    else:
        per_step, per_neuron = sim.window(window)
    np.savez(out, per_step=per_step, per_neuron=per_neuron)
    return 0


# -------------------------------------------------------------------------------------------- the orchestrator

def export_network(n: int, k: int, drive: tuple[float, float], seed: int, path: str) -> float:
    """Build the LSM central reservoir and the drive, write them to ``path``; returns the build seconds."""
    import torch

    from neuromorph.models.lsm import LiquidStateMachine

    t0 = time.perf_counter()
    lsm = LiquidStateMachine(1, n_neurons=n, k=k, tau=TAU, threshold=THRESHOLD, refractory=REFRACTORY, seed=seed)
    syn = lsm.synapses
    pre = torch.repeat_interleave(torch.arange(n), syn.crow[1:] - syn.crow[:-1])
    rng = np.random.default_rng(seed + 1)
    np.savez(path, n=n, pre=pre.numpy().astype(np.int32), post=syn.col.numpy().astype(np.int32),
             w=syn.val.numpy().astype(np.float64), drive=rng.uniform(drive[0], drive[1], n))
    return time.perf_counter() - t0


def ks_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov statistic ``max |F_a - F_b|`` of the empirical distributions."""
    grid = np.union1d(a, b)
    fa = np.searchsorted(np.sort(a), grid, side="right") / a.size
    fb = np.searchsorted(np.sort(b), grid, side="right") / b.size
    return float(np.abs(fa - fb).max())


def run_cell(n: int, rate: str, threads: int, kinds: list[str], pythons: dict, npz: str, tmp: str,
             steps: int, repeats: int) -> dict:
    here = os.path.abspath(__file__)
    procs, ready = {}, {}
    for kind in kinds:
        env = dict(os.environ, OMP_NUM_THREADS=str(threads), PYTHONPATH=os.getcwd())
        out = os.path.join(tmp, f"{kind}_{n}_{rate}_{threads}.npz")
        procs[kind] = (subprocess.Popen([pythons[kind], here, "--worker", kind, npz, str(threads), str(steps), out],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env), out)
    for kind, (p, _) in procs.items():  # builds run concurrently; only the timed runs are serialised
        answer = read_answer(p)
        if answer is None:
            print(f"  {kind}: failed to build (exit {p.wait()})", flush=True)
            continue
        ready[kind] = answer
    best = {kind: float("inf") for kind in ready}
    for _ in range(repeats):
        for kind in ready:
            p = procs[kind][0]
            p.stdin.write("run\n")
            p.stdin.flush()
            best[kind] = min(best[kind], read_answer(p)["seconds"])
    windows = {}
    for kind, (p, out) in procs.items():
        if kind in ready:
            p.stdin.write("done\n")
            p.stdin.flush()
            p.wait()
            data = np.load(out)
            windows[kind] = (data["per_step"], data["per_neuron"])
    row = {"n": n, "rate_target": rate, "threads": threads, "steps": steps, "repeats": repeats}
    ref_step, ref_neuron = windows.get("neuromorph", (None, None))
    for kind in ready:
        per_step, per_neuron = windows[kind]
        r = dict(ready[kind], steps_per_s=steps / best[kind], rate=float(per_step.sum()) / (n * len(per_step)))
        if ref_step is not None and kind != "neuromorph":
            rates = per_neuron / len(per_step)
            ref_rates = ref_neuron / len(ref_step)
            r["rate_rel_diff"] = r["rate"] / max(float(ref_step.sum()) / (n * len(ref_step)), 1e-12) - 1
            r["ks"] = ks_distance(ref_rates, rates)
            r["steps_identical"] = bool(np.array_equal(per_step, ref_step))
            r["steps_differing"] = int((per_step != ref_step).sum())
        row[kind] = r
    return row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="10000,100000", help="comma-separated N values")
    ap.add_argument("--rates", default=",".join(DRIVES), help=f"target rates, of {sorted(DRIVES)}")
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    ap.add_argument("--k", type=int, default=100, help="synapses per neuron")
    ap.add_argument("--steps", type=int, default=1000, help="timed steps per round (dt = 1 ms)")
    ap.add_argument("--repeats", type=int, default=3, help="interleaved rounds; the best counts")
    ap.add_argument("--simulators", default=",".join(KINDS), help="comma-separated subset of " + ",".join(KINDS))
    ap.add_argument("--nest-python", default="/work/venvs/nest/bin/python", help="python with nest-simulator")
    ap.add_argument("--brian-python", default="/work/venvs/brian2/bin/python", help="python with brian2, cython")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default="", help="also write the rows to this JSON file")
    ap.add_argument("--worker", nargs=5, metavar=("KIND", "NPZ", "THREADS", "STEPS", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        kind, npz, threads, steps, out = args.worker
        return worker(kind, npz, int(threads), int(steps), out)
    kinds = [s for s in args.simulators.split(",") if s]
    bad = [s for s in kinds if s not in KINDS] + [r for r in args.rates.split(",") if r not in DRIVES]
    if bad:
        raise SystemExit(f"unknown simulators or rates: {bad}")
    pythons = {"neuromorph": sys.executable, "neuromorph_float32": sys.executable, "nest": args.nest_python,
               "brian2_cython": args.brian_python,
               "brian2_standalone": args.brian_python}
    for kind in list(kinds):
        if kind != "neuromorph" and not os.path.exists(pythons[kind]):
            print(f"# {kind} skipped: {pythons[kind]} not found", flush=True)
            kinds.remove(kind)
    rows = []
    print(f"# K={args.k}, best of {args.repeats} interleaved rounds x {args.steps} steps, dt = 1 ms, float64")
    with tempfile.TemporaryDirectory() as tmp:
        for n in (int(s) for s in args.sizes.split(",") if s):
            for rate in args.rates.split(","):
                npz = os.path.join(tmp, f"net_{n}_{rate}.npz")
                build_s = export_network(n, args.k, drive_range(rate, n), args.seed, npz)
                print(f"## N={n}, target rate {rate}, drive U{drive_range(rate, n)}, network built in {build_s:.1f} s",
                      flush=True)
                for threads in (int(s) for s in args.threads.split(",") if s):
                    cell_kinds = [k for k in kinds if not (k == "brian2_cython" and threads > 1)]
                    row = run_cell(n, rate, threads, cell_kinds, pythons, npz, tmp, args.steps, args.repeats)
                    rows.append(row)
                    ours = row.get("neuromorph", {}).get("steps_per_s", float("nan"))
                    for kind in cell_kinds:
                        if kind not in row:
                            continue
                        r = row[kind]
                        check = ""
                        if "ks" in r:
                            check = (f" rate diff {100 * r['rate_rel_diff']:+.1f}% KS {r['ks']:.3f} "
                                     f"per-step identical {r['steps_identical']} ({r['steps_differing']} differ)")
                        print(f"  threads={threads} {kind:>18}: {r['steps_per_s']:9.1f} steps/s "
                              f"(ours/this {ours / r['steps_per_s']:5.2f}x) rate {r['rate']:.4f} "
                              f"build {r['build_s']:.1f} s compile {r['compile_s']:.1f} s "
                              f"RSS/syn {r['rss_per_synapse']:.1f} B{check}", flush=True)
                    if args.json:
                        with open(args.json, "w") as fh:
                            json.dump(rows, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
