"""Writing a run's results: ``latest.json`` (everything) and ``latest.md`` (tables to read)."""

from __future__ import annotations

import json
from pathlib import Path

GROUP_TITLES = {
    "forward": "Forward, headline shape",
    "backward": "Backward (VJP) against PyTorch's autograd backward",
    "small": "Small inputs: Python overhead of one call",
    "modules": "One training step of a module",
    "sparse": "Sparse maps, forward + backward",
}


def write_json(results: dict, path: Path) -> None:
    """Everything the run measured, for tools (and for regenerating the README table)."""
    path.write_text(json.dumps(results, indent=2, sort_keys=False) + "\n")


def _ms(seconds: float) -> str:
    """A time in milliseconds, or microseconds below 0.1 ms, to 3 significant digits."""
    if seconds < 1e-4:
        return f"{seconds * 1e6:.3g} us"
    return f"{seconds * 1e3:.3g} ms"


def _timing_table(rows: list[dict]) -> list[str]:
    """One table per group: a column per peer, each cell ``time (time_peer / time_npsoftmax)``."""
    peers: list[str] = []
    for r in rows:
        peers += [p for p in r["ratios"] if p not in peers]
    head = ["case", "shape", "dtype", "threads", "npsoftmax", *peers]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [
            r["case"],
            "x".join(map(str, r["shape"])),
            r["dtype"],
            str(r["threads"]),
            _ms(r["times_s"][r["subject"]]),
        ]
        for p in peers:
            t = r["times_s"].get(p)
            cells.append("" if t is None else f"{_ms(t)} ({r['ratios'][p]:.2f}x)")
        lines.append("| " + " | ".join(cells) + " |")
    notes = sorted({r["note"] for r in rows if r.get("note")})
    return lines + ([""] + [f"Note: {n}" for n in notes] if notes else [])


def _memory_table(rows: list[dict]) -> list[str]:
    lines = [
        "| implementation | input | extra peak RSS | NumPy allocations (tracemalloc) "
        "| (input + extra) / (input + output) |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['impl']} | {r['input_bytes'] / 2**20:.0f} MiB "
            f"| {r['peak_extra_bytes'] / 2**20:.1f} MiB "
            f"| {r['tracemalloc_peak_bytes'] / 2**20:.1f} MiB "
            f"| {r['peak_over_input_plus_output']:.3f} |"
        )
    return lines


def _scaling_table(points: list[dict]) -> list[str]:
    impls = list(points[0]["ns_per_element"]) if points else []
    head = ["sweep", "rows", "classes", "threads", *[f"{i} (ns/elem)" for i in impls]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for p in points:
        cells = [p["sweep"], str(p["rows"]), str(p["classes"]), str(p["threads"])]
        cells += [f"{p['ns_per_element'][i]:.3g}" for i in impls]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _dask_table(rows: list[dict]) -> list[str]:
    lines = [
        "| input | chunks | threads | time | throughput | peak RSS |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['input_gib']:.2f} GiB float32 {r['shape'][0]}x{r['shape'][1]} "
            f"| {r['chunk_mib']:.0f} MiB | {r['threads']} | {r['seconds']:.1f} s "
            f"| {r['input_gib'] / r['seconds']:.2f} GiB/s | {r['peak_rss_bytes'] / 2**30:.2f} GiB |"
        )
    return lines


def markdown(results: dict) -> str:
    """The Markdown report: machine, then one section per kind of result."""
    m = results["machine"]
    v = ", ".join(f"{k} {ver}" for k, ver in m["versions"].items() if ver)
    out = [
        "# npsoftmax benchmarks",
        "",
        f"Machine: {m['cpu']} ({', '.join(m['simd']) or 'no AVX2'}), {m['cores']} cores, "
        f"{m['memory_gib']} GiB; {m['os']}.  ",
        f"Numba's vectors: {m.get('numba_vectors', 'not recorded')}.  ",
        f"Versions: {v}.  ",
        f"Run: `{results['command']}`{' (quick sizes)' if results['config']['quick'] else ''}.",
        "",
        "Medians over repeats after a warm-up; the peers of one op at one thread count are timed",
        "in turns (A, B, A, B, ...), module steps in alternating blocks (PyTorch's in a process",
        "of its own, without npsoftmax). Each cell is a median",
        "time and, in brackets,",
        "time(peer) / time(npsoftmax): above 1, npsoftmax is faster; against a memory floor",
        "(np.copyto, x.copy(), parallel copy) it shows how close npsoftmax runs to the floor.",
        "NumPy and SciPy run these ops on one thread at every thread count (measured once);",
        "np.copyto and x.copy() are one-thread floors, the parallel copy runs at the row's count.",
    ]
    timing = results["timings"]
    for group, title in GROUP_TITLES.items():
        rows = [r for r in timing if r["group"] == group]
        if rows:
            out += ["", f"## {title}", "", *_timing_table(rows)]
    if results["memory"]:
        out += ["", "## Peak memory of one softmax call (fresh subprocess each)", ""]
        out += _memory_table(results["memory"])
    if results["scaling"]:
        out += ["", "## Scaling (softmax float32, out=)", "", *_scaling_table(results["scaling"])]
        if results.get("plot"):
            out += ["", results["plot"]]
    if results["dask"]:
        out += ["", "## dask: softmax + per-row entropy streamed over a lazy input", ""]
        out += _dask_table(results["dask"])
    if results.get("failed"):
        out += ["", "## Failed (not timed)", ""]
        out += [f"- {f['case']}: {f['error']}" for f in results["failed"]]
    if results["skipped"]:
        out += ["", "## Skipped", ""]
        out += [f"- {s['case']}: {s['skipped']}" for s in results["skipped"]]
    return "\n".join(out) + "\n"


# -- the README's summary ----------------------------------------------------------------------
README_START = "<!-- benchmarks:start (written by python -m benchmarks; edits are overwritten) -->"
README_END = "<!-- benchmarks:end -->"
# summary column -> the peers it shows, the first one a row has
_SUMMARY_PEERS = {
    "vs PyTorch / entmax": ("torch", "entmax"),
    "vs memory floor": ("np.copyto", "x.copy()"),
    "vs SciPy": ("scipy",),
    "vs full softmax": ("npsoftmax full softmax",),
}


def _ratio_cell(row: dict, names: tuple[str, ...]) -> str:
    for name in names:
        if name in row["ratios"]:
            return f"{row['ratios'][name]:.2f}x ({name})"
    return ""


def readme_summary(results: dict) -> str:
    """The headline numbers for the README: one line per timed case, machine and command."""
    m = results["machine"]
    arch = f" {m['microarchitecture']}" if m.get("microarchitecture") else ""
    lines = [
        f"Measured on {m['cpu']}{arch} ({', '.join(m['simd']) or 'no AVX2'}), {m['cores']} "
        f"cores, {m['memory_gib']} GiB, with `{results['command']}`; every table, the scaling "
        "plot and the machine's versions are in `benchmarks/results/latest.md`.  Ratios are "
        "time(peer) / time(npsoftmax), taken in one run at the same thread count: above 1, "
        "npsoftmax is faster (against a memory floor, 1 means at the floor).",
        "",
        "| case | shape | dtype | threads | npsoftmax | " + " | ".join(_SUMMARY_PEERS) + " |",
        "|" + "---|" * (5 + len(_SUMMARY_PEERS)),
    ]
    for r in results["timings"]:
        cells = [
            r["case"],
            "x".join(map(str, r["shape"])),
            r["dtype"],
            str(r["threads"]),
            _ms(r["times_s"][r["subject"]]),
        ]
        cells += [_ratio_cell(r, names) for names in _SUMMARY_PEERS.values()]
        lines.append("| " + " | ".join(cells) + " |")
    for r in results["memory"]:
        if r["impl"].startswith("npsoftmax"):
            lines += [
                "",
                f"Peak memory, `{r['impl']}` on a {r['input_bytes'] / 2**20:.0f} MiB input: "
                f"{r['peak_extra_bytes'] / 2**20:.1f} MiB above the input, "
                f"{r['peak_over_input_plus_output']:.3f} x (input + output).",
            ]
    for r in results["dask"]:
        lines += [
            "",
            f"dask: {r['input_gib']:.1f} GiB of float32 logits, drawn lazily, through softmax and "
            f"a per-row entropy in {r['seconds']:.0f} s ({r['input_gib'] / r['seconds']:.2f} "
            f"GiB/s) with a peak RSS of {r['peak_rss_bytes'] / 2**30:.2f} GiB.",
        ]
    return "\n".join(lines)


def update_readme(path: Path, summary: str) -> None:
    """Replace the text between the README's benchmark markers with ``summary``."""
    text = path.read_text()
    start, end = text.find(README_START), text.find(README_END)
    if start < 0 or end < start:
        raise ValueError(f"{path} has no '{README_START}' ... '{README_END}' section to update")
    head = text[: start + len(README_START)]
    path.write_text(f"{head}\n{summary}\n{text[end:]}")
