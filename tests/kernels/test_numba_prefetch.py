"""Software prefetch in the row kernels: a hint that changes no result, and is in the code."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from numba import njit
from numba.core.errors import TypingError

from npsoftmax.kernels.numba_prefetch import PREFETCH_STEP, next_row, prefetch

X86 = platform.machine().lower() in ("x86_64", "amd64")


@njit
def _prefetch_then_sum(a, start, stop):
    prefetch(a, start, stop)
    return a.sum()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("start", "stop"), [(0, 0), (0, 1), (3, 700), (0, 1000), (999, 1000)])
def test_prefetch_changes_nothing(dtype, start, stop):
    a = np.arange(1000, dtype=dtype)
    before = a.copy()
    assert _prefetch_then_sum(a, start, stop) == before.sum()
    np.testing.assert_array_equal(a, before)


def test_prefetch_takes_a_contiguous_row_only():
    a = np.arange(12.0).reshape(3, 4)
    with pytest.raises(TypingError):
        _prefetch_then_sum(a, 0, 4)  # 2-D
    with pytest.raises(TypingError):
        _prefetch_then_sum(a[:, 0], 0, 3)  # strided


@njit
def _rows_ahead(hi):
    return [next_row(i, hi) for i in range(hi)]


def test_the_row_ahead_is_the_next_one_within_the_chunk():
    assert _rows_ahead(1) == [0]
    assert _rows_ahead(4) == [1, 2, 3, 3]
    assert PREFETCH_STEP % 16 == 0  # whole 64-byte lines of float32


@pytest.mark.skipif(not X86, reason="the instruction checked is x86-64's")
def test_the_forward_kernels_prefetch_the_next_row(tmp_path):
    """The machine code holds ``prefetcht1`` (LLVM's ``llvm.prefetch`` with locality 2).

    Compiled in a fresh process with an empty cache: a kernel loaded from Numba's cache has no
    assembly to show.
    """
    script = textwrap.dedent(
        """
        from numba import types
        from npsoftmax.kernels import numba_cpu, numba_mixture
        f32 = types.float32
        row, col, rows3 = f32[:, ::1], f32[::1], f32[:, :, ::1]
        cases = [
            (numba_cpu._softmax_ser, (row, row)),
            (numba_cpu._log_softmax_ser, (row, row)),
            (numba_cpu._logsumexp_ser, (row, col)),
            (numba_cpu._cross_entropy_ser, (row, types.int64[::1], col)),
            (numba_cpu._weighted_softmax_ser, (row, col, row)),
            (numba_mixture._mixture_ser, (row, rows3, rows3, row)),
        ]
        for kernel, sig in cases:
            kernel.compile(sig)
            print(kernel.__name__, kernel.inspect_asm(sig).count("prefetcht1"))
        """
    )
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=600, env=env
    )
    assert done.returncode == 0, done.stderr
    counts = dict(line.split() for line in done.stdout.splitlines())
    assert len(counts) == 6
    assert all(int(n) > 0 for n in counts.values()), counts
