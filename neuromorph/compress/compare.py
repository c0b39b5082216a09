"""Budget comparison and plots for benchmark rows (:func:`neuromorph.compress.evaluate.evaluate`).

At a budget of ``b`` bytes per vector, each family's best row is the one with the highest
``recall_at_10_rescored_x10`` among its rows with ``bytes_per_vector <= b``. The project's code *meets* the
budget when its best recall is at least FAISS's best, or when some project row within the budget reaches
FAISS's best x10 recall with x50 rescoring at ``>= speedup`` times that FAISS row's ``qps_batch256``
(more candidates from a faster scan). ``gap`` is ours minus FAISS's best x10 recall.

>>> rows = [{"method": "a", "family": "neuromorph", "bytes_per_vector": 8, "recall_at_10_rescored_x10": 0.9,
...          "recall_at_10_rescored_x50": 0.99, "qps_batch256": 10.0},
...         {"method": "b", "family": "faiss", "bytes_per_vector": 5, "recall_at_10_rescored_x10": 0.8,
...          "recall_at_10_rescored_x50": 0.95, "qps_batch256": 50.0}]
>>> budget_comparison(rows, budgets=(8,))[0]["met"]
True
"""

from __future__ import annotations

from typing import Any, Sequence

BUDGETS = (8, 16, 32, 48)
RECALL = "recall_at_10_rescored_x10"


def _best(rows: Sequence[dict], family: str, budget: int) -> dict | None:
    fitting = [
        r for r in rows if r["family"] == family and r["bytes_per_vector"] <= budget and r["method"] != "float32"
    ]
    return max(fitting, key=lambda r: r[RECALL], default=None)


def budget_comparison(rows: Sequence[dict], budgets: Sequence[int] = BUDGETS, speedup: float = 3.0) -> list[dict]:
    """One dict per budget: best rows of both families, ``gap``, ``met`` and how (module docstring).

    >>> rows = [{"method": "sign", "family": "neuromorph", "bytes_per_vector": 8, "recall_at_10_rescored_x10": 0.7,
    ...          "recall_at_10_rescored_x50": 0.9, "qps_batch256": 100.0},
    ...         {"method": "pq8", "family": "faiss", "bytes_per_vector": 8, "recall_at_10_rescored_x10": 0.8,
    ...          "recall_at_10_rescored_x50": 0.95, "qps_batch256": 10.0}]
    >>> entry = budget_comparison(rows, budgets=(8,))[0]
    >>> round(entry["gap"], 3), entry["met"]          # 0.7 < 0.8, but x50 rescoring reaches 0.8 ten times faster
    (-0.1, True)
    """
    out = []
    for b in budgets:
        ours, theirs = _best(rows, "neuromorph", b), _best(rows, "faiss", b)
        entry: dict[str, Any] = {"budget": b, "ours": ours, "faiss": theirs, "gap": None, "met": None, "how": ""}
        if ours is not None and theirs is not None:
            entry["gap"] = ours[RECALL] - theirs[RECALL]
            if entry["gap"] >= 0:
                entry["met"], entry["how"] = True, "recall"
            else:
                fast = [
                    r
                    for r in rows
                    if r["family"] == "neuromorph"
                    and r["bytes_per_vector"] <= b
                    and r.get("recall_at_10_rescored_x50", 0) >= theirs[RECALL]
                    and r["qps_batch256"] >= speedup * theirs["qps_batch256"]
                ]
                entry["met"] = bool(fast)
                entry["how"] = f"x50 at {speedup:g}x q/s: {fast[0]['method']}" if fast else ""
        elif ours is not None:
            entry["met"], entry["how"] = True, "no FAISS row fits"
        out.append(entry)
    return out


def format_budget_table(entries: Sequence[dict]) -> str:
    """Markdown: budget | our best (bytes, x10 recall) | FAISS best | gap | met.

    >>> rows = [{"method": "sign", "family": "neuromorph", "bytes_per_vector": 8, "recall_at_10_rescored_x10": 0.7,
    ...          "recall_at_10_rescored_x50": 0.9, "qps_batch256": 100.0}]
    >>> print(format_budget_table(budget_comparison(rows, budgets=(8,))).splitlines()[0])
    | budget B | our best | bytes | R@10 x10 | FAISS best | bytes | R@10 x10 | gap | met |
    """
    lines = [
        "| budget B | our best | bytes | R@10 x10 | FAISS best | bytes | R@10 x10 | gap | met |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for e in entries:

        def cells(r: dict | None) -> list[str]:
            return ["-", "-", "-"] if r is None else [r["method"], str(r["bytes_per_vector"]), f"{r[RECALL]:.3f}"]

        gap = "-" if e["gap"] is None else f"{e['gap']:+.3f}"
        met = "-" if e["met"] is None else ("met" if e["met"] else "missed") + (f" ({e['how']})" if e["how"] else "")
        lines.append("| " + " | ".join([str(e["budget"]), *cells(e["ours"]), *cells(e["faiss"]), gap, met]) + " |")
    return "\n".join(lines)


def pareto_front(points: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """Points not dominated when higher is better on both axes, sorted by the first coordinate.

    >>> pareto_front([(1.0, 0.5), (2.0, 0.4), (1.5, 0.3), (0.5, 0.9)])
    [(0.5, 0.9), (1.0, 0.5), (2.0, 0.4)]
    """
    front, best = [], float("-inf")
    for x, y in sorted(points, key=lambda p: (-p[0], -p[1])):
        if y > best:
            front.append((x, y))
            best = y
    return sorted(front)


def _finish(ax, fig, plt, xlabel: str, ylabel: str, title: str, path: str) -> None:
    ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)


def plot_rows(rows: Sequence[dict], title: str, bytes_png: str, qps_png: str) -> None:
    """Recall (x10 rescoring, and plain) vs bytes/vector, and x10 recall vs batch-256 q/s with Pareto fronts.

    >>> import os, tempfile
    >>> d = tempfile.mkdtemp()
    >>> rows = [{"method": m, "family": f, "bytes_per_vector": b, "recall_at_10": r, "recall_at_10_rescored_x10": r,
    ...          "qps_batch256": q} for m, f, b, r, q in (("sign", "neuromorph", 48, 0.6, 900.0),
    ...                                                   ("pq8", "faiss", 8, 0.5, 300.0))]
    >>> plot_rows(rows, "demo", os.path.join(d, "bytes.png"), os.path.join(d, "qps.png"))
    >>> sorted(os.listdir(d))
    ['bytes.png', 'qps.png']
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = {"neuromorph": "tab:blue", "faiss": "tab:red"}
    fig, ax = plt.subplots(figsize=(8, 5))
    for fam, col in colours.items():
        rs = [r for r in rows if r["family"] == fam]
        ax.scatter([r["bytes_per_vector"] for r in rs], [r[RECALL] for r in rs], c=col, label=f"{fam} (x10 rescored)")
        ax.scatter(
            [r["bytes_per_vector"] for r in rs],
            [r["recall_at_10"] for r in rs],
            c=col,
            marker="x",
            alpha=0.6,
            label=f"{fam} (no rescoring)",
        )
        for r in rs:
            ax.annotate(r["method"], (r["bytes_per_vector"], r[RECALL]), fontsize=6, alpha=0.7)
    for b in BUDGETS:
        ax.axvline(b, color="grey", lw=0.5, ls=":")
    _finish(ax, fig, plt, "bytes per vector", "recall@10", f"{title}: recall vs bytes", bytes_png)
    fig, ax = plt.subplots(figsize=(8, 5))
    for fam, col in colours.items():
        rs = [r for r in rows if r["family"] == fam]
        pts = [(r["qps_batch256"], r[RECALL]) for r in rs]
        xs, ys = zip(*pts)
        ax.scatter(xs, ys, c=col, label=fam)
        ax.step(*zip(*pareto_front(pts)), where="post", c=col, alpha=0.6)
        for r in rs:
            ax.annotate(
                f"{r['method']} ({r['bytes_per_vector']}B)", (r["qps_batch256"], r[RECALL]), fontsize=6, alpha=0.7
            )
    _finish(
        ax,
        fig,
        plt,
        "queries/s, batch 256, 1 thread",
        "recall@10 (x10 float rescoring)",
        f"{title}: recall vs speed (Pareto fronts)",
        qps_png,
    )
