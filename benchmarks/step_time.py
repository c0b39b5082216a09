"""Training-step time and memory of a 784-H-H-10 LIF MLP: neuromorph vs peers vs the non-spiking floor.

One fwd+bwd step (cross-entropy on the time-mean output spikes, gradients of every parameter) is timed for
each library, interleaved round by round so machine noise hits all of them alike; the median per library is
divided by the floor's median (the same Linear layers run non-spiking on T*B rows). Peak memory is measured
at T=100 in a fresh subprocess per library (glibc told to unmap freed large blocks at once, so RSS tracks live
memory): the growth of the process's peak RSS over one step after a warm-up step, and the bytes of tensors
autograd saves for backward (via ``torch.autograd.graph.saved_tensors_hooks``; a leaf input counts although
it is not a copy).

    python benchmarks/step_time.py                 # the three configs of the README, 2 threads
    python benchmarks/step_time.py --quick         # a fast smoke run
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from peers import BUILDERS, available  # noqa: E402

CONFIGS = [(25, 128, 512), (100, 64, 256), (25, 32, 128)]
TARGETS = {(25, 128, 512): 1.10, (100, 64, 256): 1.25, (25, 32, 128): 1.3}
# "neuromorph-nnlinear": the same LIF net with plain nn.Linear synapses (SpikeLinear must never be slower)
LIBS = ["floor", "neuromorph", "neuromorph-nnlinear", "snntorch", "spikingjelly", "norse", "tracetorch"]


def make_batch(T: int, B: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(T, B, 784, generator=g) < 0.25).float()  # rate-coded input spikes
    y = torch.randint(0, 10, (B,), generator=g)
    return x, y


def train_step(net: nn.Module, run, x: torch.Tensor, y: torch.Tensor) -> None:
    for p in net.parameters():
        p.grad = None
    loss = nn.functional.cross_entropy(run(x) * 5, y)
    loss.backward()


def time_config(T: int, B: int, H: int, libs: list[str], rounds: int, warmup: int = 2, stat: str = "median"
                ) -> dict[str, float]:
    """Seconds per training step of each library, interleaved round by round; the median over the rounds, or
    with ``stat="min"`` the fastest (an uninterrupted step: on a shared machine the median mostly measures
    the other processes)."""
    x, y = make_batch(T, B)
    models = {}
    for name in libs:
        torch.manual_seed(0)
        models[name] = BUILDERS[name](H)
    for name, (net, run) in models.items():
        for _ in range(warmup):
            train_step(net, run, x, y)
    samples: dict[str, list[float]] = {name: [] for name in libs}
    for _ in range(rounds):
        for name, (net, run) in models.items():
            start = time.perf_counter()
            train_step(net, run, x, y)
            samples[name].append(time.perf_counter() - start)
    pick = min if stat == "min" else statistics.median
    return {name: pick(v) for name, v in samples.items()}


def _status_mb(key: str) -> float:
    with open("/proc/self/status", encoding="utf-8") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"{key} not in /proc/self/status")


def memory_child(lib: str, T: int, B: int, H: int) -> None:
    """Runs in a subprocess: print JSON with the peak-RSS growth and saved-tensor bytes of one step.

    After building the model and data, freed heap is returned to the OS (malloc_trim) and the kernel's
    peak-RSS mark is reset (``echo 5 > /proc/self/clear_refs``); the growth of VmHWM over the step is its
    peak memory. A warm-up step first builds lazy state and loads kernels.
    """
    import ctypes
    import gc

    torch.manual_seed(0)
    net, run = BUILDERS[lib](H)
    x, y = make_batch(T, B)
    train_step(net, run, x, y)
    for p in net.parameters():
        p.grad = None
    saved = {"bytes": 0}

    def pack(t: torch.Tensor):
        saved["bytes"] += t.numel() * t.element_size()
        return t

    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    with open("/proc/self/clear_refs", "w", encoding="utf-8") as fh:
        fh.write("5")
    before = _status_mb("VmRSS")
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = nn.functional.cross_entropy(run(x) * 5, y)
    loss.backward()
    peak = _status_mb("VmHWM")
    print(json.dumps({"rss_growth_mb": peak - before, "saved_mb": saved["bytes"] / 2**20}))


def measure_memory(lib: str, T: int, B: int, H: int, threads: int) -> dict[str, float]:
    # A fixed mmap threshold makes glibc return every freed large block to the OS at once, so the peak
    # RSS follows the peak of live memory instead of what the allocator keeps cached.
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="131072")
    out = subprocess.run([sys.executable, __file__, "--memory-child", lib, str(T), str(B), str(H),
                          "--threads", str(threads)], capture_output=True, text=True, check=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small configs and few rounds (smoke test)")
    parser.add_argument("--rounds", type=int, default=15, help="timed rounds per config (default 15)")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads (default 2)")
    parser.add_argument("--libs", default=",".join(LIBS[1:]), help="comma-separated libraries to compare")
    parser.add_argument("--stat", choices=("median", "min"), default="median",
                        help="statistic of the interleaved rounds (default median)")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory table")
    parser.add_argument("--memory-child", nargs=4, metavar=("LIB", "T", "B", "H"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.memory_child:
        lib, T, B, H = args.memory_child
        memory_child(lib, int(T), int(B), int(H))
        return 0

    wanted = [name for name in args.libs.split(",") if name]
    unknown = [n for n in wanted if n not in BUILDERS]
    if unknown:
        parser.error(f"--libs has unknown names {unknown}; choose from {LIBS[1:]}")
    libs = list(available(["floor"] + [n for n in wanted if n != "floor"]))
    missing = [n for n in wanted if n not in libs]
    configs = [(5, 16, 64), (10, 8, 32)] if args.quick else CONFIGS
    rounds = 3 if args.quick else args.rounds
    print(f"torch {torch.__version__}, {args.threads} threads, {args.stat} of {rounds} interleaved rounds; "
          f"ratio = step time / floor step time" + (f"; not installed: {', '.join(missing)}" if missing else ""))
    pair = "neuromorph" in libs and "neuromorph-nnlinear" in libs
    header = "| config | " + " | ".join(libs[1:]) + " | neuromorph target |" + \
        (" SpikeLinear / nn.Linear |" if pair else "") + " fastest |"
    print(header)
    print("|" + "---|" * (len(libs) + 2 + pair))
    for T, B, H in configs:
        med = time_config(T, B, H, libs, rounds, stat=args.stat)
        ratios = {n: med[n] / med["floor"] for n in libs}
        peers = [n for n in libs if n != "floor" and not n.startswith("neuromorph")]
        fastest = min(peers + (["neuromorph"] if "neuromorph" in libs else []), key=lambda n: ratios[n])
        target = TARGETS.get((T, B, H))
        cells = " | ".join(f"{ratios[n]:.2f}x" for n in libs[1:])
        versus = f" {med['neuromorph'] / med['neuromorph-nnlinear']:.2f}x |" if pair else ""
        print(f"| T{T} B{B} H{H} (floor {med['floor'] * 1e3:.1f} ms) | {cells} | "
              f"{'<= %.2fx' % target if target else '-'} |{versus} {fastest} |", flush=True)

    if args.no_memory:
        return 0
    T, B, H = (20, 16, 64) if args.quick else (100, 64, 256)
    print(f"\nMemory of one training step at T{T} B{B} H{H} (fresh process per library)")
    print("| library | peak memory of the step (MB) | autograd saved tensors (MB) |")
    print("|---|---|---|")
    mem = {n: measure_memory(n, T, B, H, args.threads) for n in libs}
    for n in libs:
        print(f"| {n} | {mem[n]['rss_growth_mb']:.1f} | {mem[n]['saved_mb']:.1f} |")
    peers = [n for n in libs if n != "floor" and not n.startswith("neuromorph")]
    if peers and "neuromorph" in mem and min(mem[n]["rss_growth_mb"] for n in peers) > 0:
        best = min(peers, key=lambda n: mem[n]["rss_growth_mb"])
        print(f"neuromorph peak memory / best peer ({best}): "
              f"{mem['neuromorph']['rss_growth_mb'] / mem[best]['rss_growth_mb']:.2f}x (target <= 0.5x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
