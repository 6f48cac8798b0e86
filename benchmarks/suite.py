"""The case list and the command line: ``python -m benchmarks [--quick] [--threads 1,2] ...``."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np

from . import machine, report
from .cases_backward import backward
from .cases_dask import dask_stream
from .cases_forward import forward, small_inputs
from .cases_memory import peak_memory
from .cases_modules import adaptive_softmax, mixture_of_softmaxes, sparse_maps
from .cases_scaling import plot, scaling
from .common import Config, quick
from .timing import parse_thread_counts

# name -> (where its rows go in the results, the case: (config, thread counts) -> rows)
CASES: dict[str, tuple[str, Callable[[Config, list[int]], list[dict]]]] = {
    "softmax": ("timings", partial(forward, "softmax", np.float32)),
    "log_softmax": ("timings", partial(forward, "log_softmax", np.float32)),
    "float64": ("timings", partial(forward, "softmax", np.float64)),
    "backward": (
        "timings",
        lambda cfg, t: backward("softmax", cfg, t) + backward("log_softmax", cfg, t),
    ),
    "small": ("timings", small_inputs),
    "memory": ("memory", peak_memory),
    "scaling": ("scaling", scaling),
    "mos": ("timings", mixture_of_softmaxes),
    "adaptive": ("timings", adaptive_softmax),
    "sparse": ("timings", sparse_maps),
    "dask16g": ("dask", dask_stream),
}
ON_REQUEST = ("dask16g",)  # minutes long: only with --only dask16g or --full
DEFAULT = tuple(name for name in CASES if name not in ON_REQUEST)
DEFAULT_OUT = Path(__file__).parent / "results"
THREAD_ENV = (
    "OMP_NUM_THREADS",
    "OMP_WAIT_POLICY",
    "GOMP_SPINCOUNT",
    "OPENBLAS_NUM_THREADS",
    "OPENBLAS_THREAD_TIMEOUT",
    "NUMBA_NUM_THREADS",
    "NUMBA_THREADING_LAYER",
)
README = Path(__file__).parent.parent / "README.md"


def run_suite(
    cfg: Config, only: tuple[str, ...] = DEFAULT, out_dir: Path | None = None, command: str = ""
) -> dict:
    """Run the cases named in ``only``; write the report to ``out_dir`` if given; return it."""
    unknown = [name for name in only if name not in CASES]
    if unknown:
        raise ValueError(f"unknown case(s) {unknown}; choose from {', '.join(CASES)}.")
    threads = list(cfg.threads) or parse_thread_counts(None)
    results: dict = {
        "machine": machine.describe(),
        "command": command or "python -m benchmarks",
        "config": {"quick": cfg.quick, "threads": threads, "cases": list(only)},
        "timings": [],
        "memory": [],
        "scaling": [],
        "dask": [],
        "skipped": [],
        "failed": [],
    }
    for name in only:
        section, case = CASES[name]
        start = time.perf_counter()
        print(f"[benchmarks] {name} ...", flush=True)
        try:
            rows = case(cfg, threads)
        except Exception as err:  # one broken case must not lose the others
            # A failed correctness check lands here too: reported, never timed.
            results["failed"].append({"case": name, "error": f"{type(err).__name__}: {err}"})
            print(f"[benchmarks]   FAILED: {type(err).__name__}: {err}", flush=True)
            continue
        for row in rows:
            if "skipped" in row:
                print(f"[benchmarks]   skipped {row['case']}: {row['skipped']}", flush=True)
                results["skipped"].append(row)
            else:
                results[section].append(row)
        print(f"[benchmarks]   done in {time.perf_counter() - start:.1f} s", flush=True)
        if out_dir is not None:  # after every case, so that an interrupted run keeps its rows
            _write(results, out_dir, with_plot=False)
    if out_dir is not None:
        _write(results, out_dir, with_plot=True)
        print(f"[benchmarks] wrote {out_dir / 'latest.json'} and {out_dir / 'latest.md'}")
    return results


def _write(results: dict, out_dir: Path, with_plot: bool) -> None:
    """Write latest.json and latest.md (and the scaling plot at the end) to ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    if with_plot and results["scaling"]:
        results["plot"] = plot(results["scaling"], out_dir / "scaling.png")
        print(f"[benchmarks] {results['plot']}")
    report.write_json(results, out_dir / "latest.json")
    (out_dir / "latest.md").write_text(report.markdown(results))


def main(argv: list[str] | None = None) -> int:
    """The command line; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Time npsoftmax against NumPy, SciPy, PyTorch and entmax, like with like.",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, few repeats")
    parser.add_argument("--threads", help="thread counts, e.g. 1,2 (default: 1, 2, every core)")
    parser.add_argument("--only", help=f"comma-separated cases from: {', '.join(CASES)}")
    parser.add_argument("--full", action="store_true", help="every case, with the dask rows")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="report folder")
    parser.add_argument(
        "--no-readme",
        action="store_true",
        help="do not rewrite README.md's benchmark table (a full-size run of every default "
        "case into the default folder rewrites it; --quick and --only runs never do)",
    )
    args = parser.parse_args(argv)
    cfg = quick() if args.quick else Config()
    try:
        threads = tuple(parse_thread_counts(args.threads))
        only = tuple(args.only.split(",")) if args.only else tuple(CASES) if args.full else DEFAULT
        cfg = Config(**{**cfg.__dict__, "threads": threads})
        # Thread-pool settings change the timings: a run made with any shows them in its command.
        env = " ".join(f"{k}={os.environ[k]}" for k in THREAD_ENV if k in os.environ)
        args_text = " ".join(argv if argv is not None else sys.argv[1:])
        command = f"{env} python -m benchmarks {args_text}"
        results = run_suite(cfg, only, args.out, command.strip())
    except ValueError as err:
        parser.error(str(err))
    complete = not cfg.quick and set(DEFAULT) <= set(only) and not results["failed"]
    if complete and args.out == DEFAULT_OUT and not args.no_readme:
        report.update_readme(README, report.readme_summary(results))
        print(f"[benchmarks] updated the table in {README}")
    return 1 if results["failed"] else 0
