"""Start Numba's thread pool with a short idle spin, so that it shares the cores with BLAS.

After each parallel kernel, the workers of GNU OpenMP (Numba's default threading layer on Linux)
keep spinning on their core, ``GOMP_SPINCOUNT`` times (300 000 by default: 4 ms of CPU burnt
after every kernel, measured on AMD EPYC), before they sleep.  A model step calls NumPy's matrix
products between kernels, and OpenBLAS needs those cores: in one step of
``AdaptiveLogSoftmaxWithLoss(512, 100000, [2000, 10000, 50000])`` on two cores, the matrix
products took 91 ms behind spinning workers and 58 ms without (with OpenBLAS's own spinning
shortened too, see the README's performance notes; otherwise that hides this).

So GNU OpenMP is loaded with ``GOMP_SPINCOUNT=SPIN_COUNT`` (about 1 ms of spinning,
measured), set in the environment only while libgomp reads it and removed again: other
libraries never see the variable.  libgomp reads its settings once, when it is loaded, so this
happens as early as possible: at ``import npsoftmax`` (:func:`load_runtime`; loading the library
starts no thread, so a process may still fork before its first parallel kernel), and again at
the pool's launch in case that failed.  Other libraries may share the runtime, though: PyTorch's
wheel ships its own ``libgomp.so.1``, and the loader reuses a library of that name when one is
already loaded, so PyTorch imported after npsoftmax runs on this libgomp and its shorter spin.
If PyTorch was imported *first*, Numba runs on PyTorch's libgomp with its default spin, and the
kernels pay for it beside BLAS (adaptive step 125 -> 170 ms on two cores, measured): set
``GOMP_SPINCOUNT=30000`` (or ``OMP_WAIT_POLICY=passive``) in the environment before Python
starts.  The cost of the short spin is a slower wake-up for kernels called between 1 and 4 ms
apart (some tens of microseconds a call, measured).

Nothing changes when the user chose for themselves (``GOMP_SPINCOUNT`` or ``OMP_WAIT_POLICY``
set), when libgomp is already loaded, or under another threading layer (TBB, workqueue).
"""

from __future__ import annotations

import ctypes
import os
import sys

SPIN_COUNT = "30000"
_USER_KNOBS = ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")
_OTHER_LAYERS = ("tbb", "workqueue")  # NUMBA_THREADING_LAYER values that need no libgomp


_loaded = False
_launched = False


def _gomp_loaded() -> bool:
    """Whether a GNU OpenMP runtime is already in this process (Linux: its memory map)."""
    try:
        with open("/proc/self/maps") as maps:
            return "libgomp" in maps.read()
    except OSError:
        return False


def _with_short_spin(action) -> None:
    """Run ``action()`` with ``GOMP_SPINCOUNT=SPIN_COUNT`` in the environment, unless user-set."""
    if any(name in os.environ for name in _USER_KNOBS):
        action()
        return
    os.environ["GOMP_SPINCOUNT"] = SPIN_COUNT
    try:
        action()
    finally:
        del os.environ["GOMP_SPINCOUNT"]


def load_runtime() -> None:
    """Load GNU OpenMP now, with the short spin, unless something loaded it first (idempotent).

    Linux only, and only for Numba's default threading layer; a machine without libgomp is
    left alone (Numba then picks another layer).
    """
    global _loaded
    if _loaded:
        return
    _loaded = True
    layer = os.environ.get("NUMBA_THREADING_LAYER", "").lower()
    if not sys.platform.startswith("linux") or layer in _OTHER_LAYERS or _gomp_loaded():
        return

    def load() -> None:
        try:
            ctypes.CDLL("libgomp.so.1", mode=ctypes.RTLD_GLOBAL)
        except OSError:
            pass

    _with_short_spin(load)


def launch_thread_pool() -> None:
    """Launch Numba's thread pool now (idempotent), with a short OpenMP spin unless user-set.

    Call it right before the first parallel kernel, not earlier: a process whose GNU OpenMP
    runtime has started its threads cannot fork children that use it (Numba terminates them).
    """
    global _launched
    if _launched:
        return
    import numba

    load_runtime()
    _with_short_spin(numba.get_num_threads)  # launches the pool (a no-op once it runs)
    _launched = True
