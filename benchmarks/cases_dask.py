"""Past one machine's memory: stream a lazily generated float32 input through dask.

A ``dask.array`` of ``GiB`` gibibytes (32768 classes, chunks of about ``chunk_mib`` MiB, drawn by
``dask.array.random.default_rng(0)``: nothing exists until a block is needed) goes through
``npsoftmax.softmax`` and ``npsoftmax.log_softmax`` and a per-row reduction, the entropy
``H = -sum(softmax * log_softmax)``; only the ``rows`` entropies are gathered.  It runs in a fresh
subprocess (``python -m benchmarks.cases_dask GIB CHUNK_MIB THREADS``) on dask's threaded
scheduler with one Numba thread per dask worker thread, and reports the wall time and the
process's peak RSS (``ru_maxrss``, imports included): a few chunks per thread, not the input.

Before the timed run, the first rows are checked against SciPy on the same generated values.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path
from time import perf_counter

import numpy as np

from .common import Config, skipped_row
from .timing import max_threads

CLASSES = 32768


def stream(gib: float, chunk_mib: int, threads: int) -> dict[str, object]:
    """In this process: the streamed softmax + entropy over a ``gib`` GiB lazy input."""
    import dask.array as da
    import scipy.special

    import npsoftmax as nps

    rows = int(gib * 2**30) // (4 * CLASSES)
    chunk_rows = max(1, chunk_mib * 2**20 // (4 * CLASSES))
    x = da.random.default_rng(0).standard_normal(
        (rows, CLASSES), dtype=np.float32, chunks=(chunk_rows, CLASSES)
    )
    entropy = -(nps.softmax(x) * nps.log_softmax(x)).sum(axis=-1)

    head = x[:8].compute()  # the same values the graph will draw for these rows
    want = scipy.special.entr(scipy.special.softmax(head.astype(np.float64), axis=-1)).sum(-1)
    np.testing.assert_allclose(entropy[:8].compute(), want, rtol=1e-4)

    start = perf_counter()
    h = entropy.compute(scheduler="threads", num_workers=threads)
    seconds = perf_counter() - start
    if not (np.all(h >= 0) and np.all(h <= np.log(CLASSES) * (1 + 1e-5))):
        raise AssertionError("an entropy fell outside [0, log(classes)]")
    return {
        "group": "dask",
        "case": "dask softmax + entropy",
        "input_gib": rows * CLASSES * 4 / 2**30,
        "shape": [rows, CLASSES],
        "chunk_mib": chunk_rows * CLASSES * 4 / 2**20,
        "threads": threads,
        "seconds": seconds,
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }


def dask_stream(cfg: Config, threads: list[int]) -> list[dict]:
    """Run :func:`stream` in a subprocess at every core; skipped without dask."""
    from importlib.util import find_spec

    if find_spec("dask") is None:
        return [skipped_row("dask softmax + entropy", "dask is not installed (extra 'dask').")]
    n = max_threads()
    cmd = [sys.executable, "-m", "benchmarks.cases_dask", str(cfg.dask_gib)]
    cmd += [str(cfg.dask_chunk_mib), str(n)]
    # One Numba thread per dask thread: the parallelism is dask's, over blocks.
    env = dict(os.environ, NUMBA_NUM_THREADS="1", OMP_NUM_THREADS="1")
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=root, env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the dask stream failed:\n{done.stderr}")
    return [json.loads(done.stdout.strip().splitlines()[-1])]


if __name__ == "__main__":
    print(json.dumps(stream(float(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))))
