"""How the suite times a call and sets thread counts: the only timing code in the suite."""

from __future__ import annotations

import os
import statistics
from collections.abc import Callable
from time import perf_counter

import numba


def median_seconds(
    fn: Callable[[], object], repeats: int, number: int = 1, warmup: int = 1
) -> float:
    """Median over ``repeats`` of the mean time of ``number`` back-to-back calls of ``fn``.

    The ``warmup`` calls first are not timed: the first Numba call compiles (or loads its cache),
    the first PyTorch call sets up its kernels, and the first write to a fresh output faults its
    pages in.  The median, not the mean, so that one descheduled repeat does not count.
    """
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = perf_counter()
        for _ in range(number):
            fn()
        times.append((perf_counter() - start) / number)
    return statistics.median(times)


def interleaved_medians(
    fns: dict[str, Callable[[], object]], repeats: int, number: int = 1, warmup: int = 1
) -> dict[str, float]:
    """:func:`median_seconds` of several calls, timed in turns: A, B, C, A, B, C, ...

    For peers compared at one thread count on one op: a slow spell of the machine (a shared
    host's other tenants, frequency changes) then falls on every peer alike instead of on
    whichever block it hit; with blocks, ratios on a two-core cloud machine moved by 30% from
    run to run.  Not for whole training steps, where each library's idle worker threads would
    spin into the next library's turn, nor for calls that allocate a large result, where each
    call's page faults depend on how the other library left the memory (:func:`median_seconds`
    in blocks for both).
    """
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = perf_counter()
            for _ in range(number):
                fn()
            times[name].append((perf_counter() - start) / number)
    return {name: statistics.median(t) for name, t in times.items()}


def timed_block(fn: Callable[[], object], per_block: int) -> list[float]:
    """One untimed call of ``fn``, then ``per_block`` timed ones: their times (s)."""
    fn()
    times = []
    for _ in range(per_block):
        start = perf_counter()
        fn()
        times.append(perf_counter() - start)
    return times


def block_medians(fns: dict[str, object], rounds: int, per_block: int = 3) -> dict[str, float]:
    """Median per-call time of several calls, timed in alternating blocks: A A A, B B B, A ...

    For whole training steps: in turns (:func:`interleaved_medians`) each library's idle worker
    threads, spinning for a few milliseconds after their work, would run into the other's turn;
    in one block each (:func:`median_seconds`), a slow spell of the machine fell on whichever
    library it hit (the module rows of two full runs on a two-core VM differed by up to 1.7x).
    Here each block starts with an untimed call (it pays for the other library's threads going
    idle, and warms this one up), then times ``per_block`` calls; ``rounds`` blocks per call.
    A value is a function to call, or an object whose ``timed_block(per_block)`` times a block
    elsewhere (:class:`benchmarks.peer.TorchSteps`, PyTorch in a process of its own).
    """
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            remote = getattr(fn, "timed_block", None)
            times[name] += remote(per_block) if remote else timed_block(fn, per_block)
    return {name: statistics.median(t) for name, t in times.items()}


def max_threads() -> int:
    """The most threads Numba may use here (its pool is sized once, from the CPU count)."""
    return min(os.cpu_count() or 1, numba.config.NUMBA_NUM_THREADS)


def default_thread_counts() -> list[int]:
    """1, 2 and every core: the counts the targets are stated at."""
    return sorted({1, min(2, max_threads()), max_threads()})


def parse_thread_counts(spec: str | None) -> list[int]:
    """``"1,2,8"`` -> ``[1, 2, 8]``; ``None`` -> :func:`default_thread_counts`."""
    if not spec:
        return default_thread_counts()
    counts = sorted({int(s) for s in spec.split(",") if s.strip()})
    if not counts or counts[0] < 1 or counts[-1] > max_threads():
        raise ValueError(
            f"--threads {spec!r}: each count must be between 1 and {max_threads()} (the cores "
            "Numba can use on this machine)."
        )
    return counts


def set_threads(n: int) -> None:
    """Run Numba's parallel loops and PyTorch's intra-op pool on ``n`` threads."""
    numba.set_num_threads(n)
    torch = optional("torch")
    if torch is not None:
        torch.set_num_threads(n)


def optional(name: str):
    """Import ``name`` if it is installed, else return None (peers are optional)."""
    try:
        return __import__(name)
    except ImportError:
        return None
