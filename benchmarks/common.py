"""What every case shares: the sizes (full and quick), the result row, the correctness check."""

from __future__ import annotations

from dataclasses import dataclass, field

import numba
import numpy as np


@dataclass(frozen=True)
class Config:
    """Sizes and repeats of one run. ``Config()`` is the full run; :func:`quick` the small one."""

    rows: int = 4096  # the headline shape, (rows, classes) float32: 512 MB
    classes: int = 32768
    repeats: int = 10
    slow_repeats: int = 3  # single-threaded NumPy/SciPy peers take seconds per call
    small_shapes: tuple[tuple[int, int], ...] = ((32, 10), (1, 1000))
    small_number: int = 2000  # calls per repeat for the small inputs
    memory_shape: tuple[int, int] = (4096, 32768)
    scaling_elements: int = 2**25  # the classes sweep keeps rows * classes at this
    scaling_classes: tuple[int, ...] = (100, 1_000, 10_000, 100_000, 1_000_000)
    scaling_rows: tuple[int, ...] = (64, 256, 1024, 4096)
    mos: tuple[int, int, int, int] = (5, 256, 10_000, 256)  # K, d, C, batch rows
    adaptive: tuple[int, int, tuple[int, ...], int] = (512, 100_000, (2_000, 10_000, 50_000), 1024)
    sparse_shape: tuple[int, int] = (4096, 32768)
    module_repeats: int = 5
    dask_gib: float = 16.0
    dask_chunk_mib: int = 128
    threads: tuple[int, ...] = field(default_factory=tuple)  # empty: timing.default_thread_counts
    quick: bool = False


def quick(config: Config | None = None) -> Config:
    """Small sizes and few repeats: the whole default selection in well under a minute."""
    from dataclasses import replace

    return replace(
        config or Config(),
        rows=256,
        classes=4096,
        repeats=3,
        slow_repeats=2,
        small_number=200,
        memory_shape=(256, 8192),
        scaling_elements=2**18,
        scaling_classes=(100, 1_000, 10_000, 100_000),
        scaling_rows=(16, 64, 256),
        mos=(5, 32, 1_000, 32),
        adaptive=(64, 5_000, (500, 1_000, 2_500), 128),
        sparse_shape=(256, 4096),
        module_repeats=2,
        dask_gib=0.25,
        dask_chunk_mib=16,
        quick=True,
    )


def timing_row(
    group: str,
    case: str,
    shape: tuple[int, ...],
    dtype: str,
    threads: int,
    times: dict[str, float],
    subject: str = "npsoftmax",
    note: str = "",
) -> dict[str, object]:
    """One result: medians in seconds per implementation, and ``time(peer) / time(subject)``."""
    t = times[subject]
    return {
        "group": group,
        "case": case,
        "shape": list(shape),
        "dtype": dtype,
        "threads": threads,
        "subject": subject,
        "times_s": dict(times),
        "ratios": {k: v / t for k, v in times.items() if k != subject},
        "note": note,
    }


def skipped_row(case: str, reason: str) -> dict[str, str]:
    """A case that could not run here, and why (printed and written to the report)."""
    return {"case": case, "skipped": reason}


def check(name: str, got: object, want: np.ndarray, scale: np.ndarray | None = None) -> None:
    """Assert that ``got`` agrees with the reference ``want`` before ``name`` is timed.

    Each element may be off by ``rtol * scale``: a few ulps of the result's precision (the
    kernels' documented accuracy plus another summation order) times ``scale``, which is
    ``|want|`` unless the caller gives the size of the terms that were added (a VJP's
    ``g - <g, y>`` cancels, so its error follows ``y * (|g| + <|g|, y>)``, not the result).
    A floor far below any element lets exact zeros compare.
    """
    got = np.asarray(got)
    rtol = 2e-5 if got.dtype == np.float32 else 1e-11
    scale = np.abs(want) if scale is None else scale
    floor = rtol * 1e-6 * float(np.max(scale, initial=0.0))
    with np.errstate(invalid="ignore"):
        bad = ~(np.abs(got - want) <= rtol * scale + floor)
    bad &= ~(np.isnan(got) & np.isnan(want))
    if bad.any():
        i = np.unravel_index(np.argmax(bad), bad.shape)
        raise AssertionError(
            f"{name} disagrees with the reference at {bad.sum()} of {bad.size} elements, e.g. "
            f"at {tuple(map(int, i))}: {got[i]!r} against {want[i]!r} (tolerance {rtol} x scale)."
        )


@numba.njit(parallel=True, cache=True)
def parallel_copy(x: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover (compiled)
    """The memory floor at n threads: each row copied by one of Numba's threads."""
    for i in numba.prange(x.shape[0]):
        out[i, :] = x[i, :]
