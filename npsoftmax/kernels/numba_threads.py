"""Start Numba's thread pool with a short idle spin, so that it shares the cores with BLAS.

After each parallel kernel, the workers of GNU OpenMP (Numba's default threading layer on Linux)
keep spinning on their core, ``GOMP_SPINCOUNT`` times (300 000 by default: 4 ms of CPU burnt
after every kernel, measured on AMD EPYC), before they sleep.  A model step calls NumPy's matrix
products between kernels, and OpenBLAS needs those cores: in one step of
``AdaptiveLogSoftmaxWithLoss(512, 100000, [2000, 10000, 50000])`` on two cores, the matrix
products took 91 ms behind spinning workers and 58 ms without (with OpenBLAS's own spinning
shortened too, see the README's performance notes; otherwise that hides this).

So the pool is started with ``GOMP_SPINCOUNT=SPIN_COUNT`` (about 1 ms of spinning, measured),
set in the environment only while libgomp reads it (when Numba loads it, at the pool's launch)
and removed again: other libraries never see the variable.  They may share the runtime, though:
PyTorch's wheel ships its own ``libgomp.so.1``, and the loader reuses a library of that name
when one is already loaded, so PyTorch imported after npsoftmax's first kernel runs on this
libgomp and its shorter spin (and if PyTorch came first, Numba runs on PyTorch's libgomp and
this setting has no effect).  The cost is a slower wake-up for kernels called between 1 and
4 ms apart (some tens of microseconds a call, measured).

Nothing changes when the user chose for themselves (``GOMP_SPINCOUNT`` or ``OMP_WAIT_POLICY``
set), when the pool already runs, or under another threading layer (TBB, workqueue).
"""

from __future__ import annotations

import os

import numba

SPIN_COUNT = "30000"
_USER_KNOBS = ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")


_launched = False


def launch_thread_pool() -> None:
    """Launch Numba's thread pool now (idempotent), with a short OpenMP spin unless user-set.

    Call it right before the first parallel kernel, not earlier: a process whose GNU OpenMP
    runtime has started cannot fork children that use it (Numba terminates them).
    """
    global _launched
    if _launched:
        return
    if any(name in os.environ for name in _USER_KNOBS):
        numba.get_num_threads()  # launches the pool (a no-op once it runs)
    else:
        os.environ["GOMP_SPINCOUNT"] = SPIN_COUNT
        try:
            numba.get_num_threads()
        finally:
            del os.environ["GOMP_SPINCOUNT"]
    _launched = True
