"""Peak memory of one softmax call on a large input, each measured in a fresh subprocess.

The child (``python -m benchmarks.cases_memory IMPL ROWS CLASSES``) builds the float32 input (and
``out`` where the implementation takes one, touched so its pages are in), warms up on a tiny
array (Numba's first call compiles), then resets the kernel's peak-RSS counter (writing 5 to
``/proc/self/clear_refs``, Linux) and runs the call once.  It reports how far the peak RSS rose
above the RSS just before the call, and the peak of NumPy's allocations seen by ``tracemalloc``
(PyTorch's allocator is invisible to tracemalloc; the RSS sees everything).  Where the counter
cannot be reset, ``resource.getrusage``'s ``ru_maxrss`` is used and the report says so.

Target: allocating, the extra peak is the output alone (input + output + 5 % in all); with
``out=``, nothing.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np

from .common import Config, skipped_row

IMPLS = (
    "npsoftmax",
    "npsoftmax out=",
    "npsoftmax out=x",
    "scipy",
    "numpy composite",
    "torch",
    "torch out=",
)


def _status_kib(field: str) -> int | None:
    """A ``VmRSS``/``VmHWM`` line of /proc/self/status, in KiB (None off Linux)."""
    try:
        with open("/proc/self/status") as f:
            return next(int(ln.split()[1]) for ln in f if ln.startswith(field + ":"))
    except (OSError, StopIteration):
        return None


def _reset_peak() -> bool:
    """Reset the peak-RSS counter to the current RSS; False where the kernel does not allow it."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _call(impl: str, x: np.ndarray):
    """The call ``impl`` names, and whether it needs a preallocated output."""
    import scipy.special

    import npsoftmax as nps

    from .cases_forward import numpy_softmax

    if impl.startswith("torch"):
        import torch

        torch.set_num_threads(1)
        xt = torch.from_numpy(x)
        if impl == "torch out=":
            ot = torch.empty_like(xt).fill_(0)
            return lambda: torch.softmax(xt, -1, out=ot)
        return lambda: torch.softmax(xt, -1)
    if impl == "npsoftmax out=":
        out = np.zeros_like(x)  # zeros: the pages are touched now, not during the call
        return lambda: nps.softmax(x, out=out)
    if impl == "npsoftmax out=x":
        return lambda: nps.softmax(x, out=x)
    return {
        "npsoftmax": lambda: nps.softmax(x),
        "scipy": lambda: scipy.special.softmax(x, axis=-1),
        "numpy composite": lambda: numpy_softmax(x),
    }[impl]


def probe(impl: str, rows: int, classes: int) -> dict[str, object]:
    """In this process: the peak memory of one ``impl`` call on a (rows, classes) float32 input."""
    x = np.random.default_rng(0).standard_normal((rows, classes), dtype=np.float32)
    _call(impl, x[:2].copy())()  # warm-up on a tiny array: compile, load caches, set up torch
    call = _call(impl, x)
    reset = _reset_peak()
    before_kib = _status_kib("VmRSS") or 0
    tracemalloc.start()
    result = call()
    traced_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    if reset:
        peak_kib = _status_kib("VmHWM") or 0
    else:  # ru_maxrss is in KiB on Linux; it may hold an older, higher peak
        peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    del result
    return {
        "impl": impl,
        "input_bytes": x.nbytes,
        "output_bytes": 0 if "out=" in impl else x.nbytes,
        "peak_extra_bytes": max(0, peak_kib - before_kib) * 1024,
        "tracemalloc_peak_bytes": traced_peak,
        "peak_reset": reset,
    }


def peak_memory(cfg: Config, threads: list[int]) -> list[dict]:
    """Each implementation's peak memory, each in a fresh subprocess."""
    rows, classes = cfg.memory_shape
    results = []
    root = Path(__file__).resolve().parent.parent
    for impl in IMPLS:
        if impl.startswith("torch") and not _installed("torch"):
            results.append(skipped_row(f"memory {impl}", "PyTorch is not installed."))
            continue
        cmd = [sys.executable, "-m", "benchmarks.cases_memory", impl, str(rows), str(classes)]
        env = dict(os.environ, NUMBA_NUM_THREADS="1", OMP_NUM_THREADS="1")
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=root, env=env, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"memory probe {impl!r} failed:\n{done.stderr}")
        found = json.loads(done.stdout.strip().splitlines()[-1])
        total = found["input_bytes"] + found["output_bytes"]
        # (input + everything the call added at its peak) / (input + output): 1.0 is ideal.
        found["peak_over_input_plus_output"] = (
            found["input_bytes"] + found["peak_extra_bytes"]
        ) / total
        found["case"] = f"memory {impl}"
        found["group"] = "memory"
        found["shape"] = [rows, classes]
        results.append(found)
    return results


def _installed(name: str) -> bool:
    from importlib.util import find_spec

    return find_spec(name) is not None


if __name__ == "__main__":
    impl_name, n_rows, n_classes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    print(json.dumps(probe(impl_name, n_rows, n_classes)))
