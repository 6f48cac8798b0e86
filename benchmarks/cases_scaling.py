"""Scaling of float32 softmax (``out=``): with rows, with classes (1e2..1e6), with threads.

Each point is a median time per element, for npsoftmax, ``torch.softmax(out=)`` and the
parallel-copy floor at the same thread count.  :func:`plot` draws the three sweeps to
``scaling.png`` when matplotlib is installed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.special import softmax

import npsoftmax as nps

from .cases_forward import logits
from .common import Config, check, parallel_copy
from .timing import interleaved_medians, max_threads, optional, set_threads


def _point(sweep: str, rows: int, classes: int, threads: int, cfg: Config) -> dict:
    """Time the three implementations on one (rows, classes) float32 array at ``threads``."""
    x = logits((rows, classes), np.float32)
    out = np.empty_like(x)
    set_threads(threads)
    check(
        "npsoftmax.softmax(out=)", nps.softmax(x, out=out), softmax(x.astype(np.float64), axis=-1)
    )
    calls = {
        "npsoftmax": lambda: nps.softmax(x, out=out),
        "parallel copy": lambda: parallel_copy(x, out),
    }
    torch = optional("torch")
    if torch is not None:
        xt, ot = torch.from_numpy(x), torch.from_numpy(out)
        calls["torch"] = lambda: torch.softmax(xt, -1, out=ot)
    times = interleaved_medians(calls, cfg.repeats)
    return {
        "group": "scaling",
        "sweep": sweep,
        "rows": rows,
        "classes": classes,
        "threads": threads,
        "times_s": times,
        "ns_per_element": {k: 1e9 * t / x.size for k, t in times.items()},
    }


def sweep_thread_counts() -> list[int]:
    """Every count from 1 to the cores up to 16, then every fourth: the threads sweep."""
    top = max_threads()
    return sorted({*range(1, min(top, 16) + 1), *range(16, top + 1, 4), top})


def scaling(cfg: Config, threads: list[int]) -> list[dict]:
    """The three sweeps: rows and classes at 1 thread and every core, then threads 1..cores."""
    ends = sorted({1, max_threads()})
    points = []
    for n in ends:
        for r in cfg.scaling_rows:
            points.append(_point("rows", r, cfg.classes, n, cfg))
        for c in cfg.scaling_classes:
            points.append(_point("classes", max(1, cfg.scaling_elements // c), c, n, cfg))
    for n in sweep_thread_counts():
        points.append(_point("threads", cfg.rows, cfg.classes, n, cfg))
    return points


COLORS = {"npsoftmax": "tab:blue", "torch": "tab:orange", "parallel copy": "tab:gray"}


def plot(points: list[dict], path: Path) -> str:
    """Draw the sweeps to ``path``; returns a message (saying so when matplotlib is absent)."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # no display needed
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed: the scaling plot was skipped."
    if not points:
        return "no scaling points were measured: the scaling plot was skipped."
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    for ax, sweep, key in zip(axes, ("rows", "classes", "threads"), ("rows", "classes", "threads")):
        mine = [p for p in points if p["sweep"] == sweep]
        for threads in sorted({p["threads"] for p in mine}) if sweep != "threads" else [None]:
            sel = [p for p in mine if threads is None or p["threads"] == threads]
            suffix = "" if threads is None else f", {threads} thread{'s' * (threads > 1)}"
            style = "-" if threads in (None, 1) else "--"  # dashed: every core
            for impl in sel[0]["ns_per_element"]:
                xs = [p[key] for p in sel]
                ys = [p["ns_per_element"][impl] for p in sel]
                ax.plot(xs, ys, style, marker="o", color=COLORS.get(impl), label=impl + suffix)
        if sweep != "threads":
            ax.set_xscale("log")
        else:
            ax.set_xticks(sorted({p["threads"] for p in mine}))
        ax.set_yscale("log")
        ax.set_xlabel(key)
        ax.set_ylabel("ns per element (median)")
        fixed = (
            f"classes = {mine[0]['classes']}"
            if sweep == "rows"
            else "rows x classes fixed"
            if sweep == "classes"
            else f"shape {mine[0]['rows']} x {mine[0]['classes']}"
        )
        ax.set_title(f"softmax float32, out=: vs {sweep} ({fixed})", fontsize=9)
        ax.legend(fontsize=7)
        ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    # Named relative to the tables, which are written beside it (a machine path would go stale).
    return f"Scaling plot: [`{path.name}`]({path.name}), beside this file."
