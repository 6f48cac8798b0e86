"""Forward cases: softmax and log_softmax on the headline shape (float32, float64); small inputs.

Peers at each thread count: PyTorch (``out=`` and allocating), the memory floors (``np.copyto``
on one thread, a Numba parallel copy at the same count, ``x.copy()``), and the single-threaded
SciPy and NumPy composites (measured once, shown at every count).
"""

from __future__ import annotations

import numpy as np
import scipy.special

import npsoftmax as nps

from .common import Config, check, parallel_copy, timing_row
from .timing import interleaved_medians, median_seconds, optional, set_threads


def numpy_softmax(x: np.ndarray) -> np.ndarray:
    """The NumPy composite a user would write: max-subtract, exp, normalise (in place)."""
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    e /= e.sum(axis=-1, keepdims=True)
    return e


def numpy_log_softmax(x: np.ndarray) -> np.ndarray:
    """The NumPy composite for log_softmax: ``(x - m) - log(sum(exp(x - m)))``."""
    d = x - x.max(axis=-1, keepdims=True)
    d -= np.log(np.exp(d).sum(axis=-1, keepdims=True))
    return d


# name -> (npsoftmax function, SciPy function, NumPy composite, PyTorch function name)
OPS = {
    "softmax": (nps.softmax, scipy.special.softmax, numpy_softmax, "softmax"),
    "log_softmax": (nps.log_softmax, scipy.special.log_softmax, numpy_log_softmax, "log_softmax"),
}


def logits(shape: tuple[int, ...], dtype: type, seed: int = 0) -> np.ndarray:
    """Standard normal logits times 2 (spread like a trained classifier's), in ``dtype``."""
    rng = np.random.default_rng(seed)
    return 2 * rng.standard_normal(shape, dtype=np.dtype(dtype).type)


def forward(op: str, dtype: type, cfg: Config, threads: list[int]) -> list[dict]:
    """``op`` forward with ``out=`` and allocating, at each thread count."""
    nps_op, scipy_op, numpy_op, torch_name = OPS[op]
    x = logits((cfg.rows, cfg.classes), dtype)
    out = np.empty_like(x)
    want = scipy_op(x.astype(np.float64), axis=-1)  # the reference, in float64
    check(f"npsoftmax.{op}(out=)", nps_op(x, out=out), want)
    check(f"npsoftmax.{op}", nps_op(x), want)
    check(f"scipy.special.{op}", scipy_op(x, axis=-1), want)
    check(f"NumPy composite {op}", numpy_op(x), want)
    torch = optional("torch")
    if torch is not None:
        xt, ot = torch.from_numpy(x), torch.from_numpy(out)  # share memory: no copies timed
        torch_op = getattr(torch, torch_name)
        check(f"torch.{torch_name}", torch_op(xt, -1).numpy(), want)
        check(f"torch.{torch_name}(out=)", torch_op(xt, -1, out=ot).numpy(), want)
    del want

    # Single-threaded peers, measured once: their time does not depend on the thread count.
    slow = {
        "scipy": median_seconds(lambda: scipy_op(x, axis=-1), cfg.slow_repeats),
        "numpy composite": median_seconds(lambda: numpy_op(x), cfg.slow_repeats),
        "x.copy()": median_seconds(x.copy, cfg.repeats),
    }
    copyto = median_seconds(lambda: np.copyto(out, x), cfg.repeats)

    rows = []
    shape, name = x.shape, np.dtype(dtype).name
    for n in threads:
        set_threads(n)
        calls = {
            "npsoftmax": lambda: nps_op(x, out=out),
            "parallel copy": lambda: parallel_copy(x, out),
        }
        allocating_calls = {"npsoftmax": lambda: nps_op(x)}
        if torch is not None:
            calls["torch"] = lambda: torch_op(xt, -1, out=ot)
            allocating_calls["torch"] = lambda: torch_op(xt, -1)
        with_out = interleaved_medians(calls, cfg.repeats)
        # Allocating calls in blocks, as x.copy(): in turns, the first call after PyTorch's
        # (a 1 GiB float64 result in 4 KiB pages, freed) found the memory fragmented, and
        # NumPy's allocation, which asks for 2 MiB pages, paid 1.1-1.6 s of faults instead of
        # 0.4 s (softmax, float64, 1 thread; PyTorch's own calls take 1.0-1.1 s either way).
        allocating = {name: median_seconds(f, cfg.repeats) for name, f in allocating_calls.items()}
        with_out["np.copyto"] = copyto
        allocating |= slow
        rows.append(timing_row("forward", f"{op} out=", shape, name, n, with_out))
        rows.append(timing_row("forward", f"{op} allocating", shape, name, n, allocating))
    return rows


def small_inputs(cfg: Config, threads: list[int]) -> list[dict]:
    """Python overhead: one call on a tiny float64 array, npsoftmax vs SciPy (and PyTorch)."""
    set_threads(1)  # nothing to parallelise; PyTorch's pool would only add overhead
    return [_small(logits(shape, np.float64), cfg) for shape in cfg.small_shapes]


def _small(x: np.ndarray, cfg: Config) -> dict:
    """One small-input row: many back-to-back calls per repeat, so the clock resolves them."""
    want = scipy.special.softmax(x, axis=-1)
    check("npsoftmax.softmax", nps.softmax(x), want)
    times = {
        "npsoftmax": median_seconds(lambda: nps.softmax(x), cfg.repeats, cfg.small_number),
        "scipy": median_seconds(
            lambda: scipy.special.softmax(x, axis=-1), cfg.repeats, cfg.small_number
        ),
    }
    torch = optional("torch")
    if torch is not None:
        # From a NumPy array to a NumPy array, as a NumPy user would call it.
        def torch_call() -> np.ndarray:
            return torch.softmax(torch.from_numpy(x), -1).numpy()

        check("torch.softmax", torch_call(), want)
        times["torch"] = median_seconds(torch_call, cfg.repeats, cfg.small_number)
    return timing_row("small", "softmax, one call", x.shape, "float64", 1, times)
