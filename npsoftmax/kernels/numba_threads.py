"""Short idle spins for Numba's thread pool and for OpenBLAS's, so that they share the cores.

After each parallel kernel, the workers of GNU OpenMP (Numba's default threading layer on Linux)
keep spinning on their core, ``GOMP_SPINCOUNT`` times (300 000 by default: 4 ms of CPU burnt
after every kernel, measured on AMD EPYC), before they sleep.  A model step calls NumPy's matrix
products between kernels, and OpenBLAS needs those cores: in one step of
``AdaptiveLogSoftmaxWithLoss(512, 100000, [2000, 10000, 50000])`` on two cores, the matrix
products took 91 ms behind spinning workers and 58 ms without (with OpenBLAS's own spinning
shortened too, as below; otherwise that hides this).

So GNU OpenMP is loaded with ``GOMP_SPINCOUNT=SPIN_COUNT`` (about 1 ms of spinning,
measured), set in the environment only while libgomp reads it and removed again: other
libraries never see the variable.  libgomp reads its settings once, when it is loaded, so this
happens as early as possible: at ``import npsoftmax`` (:func:`load_runtime`; loading the library
starts no thread, so a process may still fork before its first parallel kernel), and again at
the pool's launch in case that failed.  Other libraries may share the runtime, though: PyTorch's
wheel ships its own ``libgomp.so.1``, and the loader reuses a library of that name when one is
already loaded, so PyTorch imported after npsoftmax runs on this libgomp and its shorter spin.
If PyTorch was imported *first*, Numba runs on PyTorch's libgomp with its default spin, and the
kernels pay for it beside BLAS (adaptive step 125 -> 170 ms on two cores, 19 -> 120 ms on 16,
measured): set ``GOMP_SPINCOUNT=30000`` (or ``OMP_WAIT_POLICY=passive``) in the environment
before Python starts.  The pool's launch warns (:class:`LongSpinWarning`, once) when it finds
Numba on a GNU OpenMP that was loaded before npsoftmax, with no spin setting of the user's.
(A wheel of PyTorch that ships a libgomp of its own may leave Numba a second one, which then
loads at the pool's launch with the short spin: no warning, nothing lost.)  The cost of the
short spin is a slower wake-up for kernels called between 1 and 4 ms apart (some tens of
microseconds a call, measured).

Nothing changes when the user chose for themselves (``GOMP_SPINCOUNT`` or ``OMP_WAIT_POLICY``
set), when libgomp is already loaded, or under another threading layer (TBB, workqueue).

OpenBLAS (NumPy's BLAS in the wheels) spins too: after each product its workers call
``sched_yield`` in a loop for ``2**28`` clock ticks (about 80 ms) before they sleep, and a kernel
launched in that time waits for its second thread to be scheduled beside the spinner: the
softmax of a (317, 50000) float32 array took 15.4 ms right after a product and 7.6 ms with
the spin shortened (two cores, measured).  OpenBLAS reads its ``OPENBLAS_THREAD_TIMEOUT`` when
its workers start, which happened at ``import numpy``; :func:`shorten_blas_spin` therefore
sets the variable, has OpenBLAS read its environment again, removes the variable and stops
the workers, which OpenBLAS restarts with the short spin at its next parallel product.  It is
done at ``import npsoftmax`` (NumPy is imported by then) and again at the pool's launch (a
library loaded in between, such as SciPy's own OpenBLAS), for the pthreads build of OpenBLAS
only (the one the NumPy and SciPy wheels ship), and never while another Python thread runs,
which could be inside a product whose workers must not be stopped.  Measured on two cores,
steps in one process with the two settings alternating: adaptive step 120.7 -> 91.2 ms,
MixtureOfSoftmaxes 162.8 -> 149.1 ms.  The spin kept, ``2**BLAS_TIMEOUT`` ticks (about 50
microseconds), gave the same steps as ``2**14`` and ``2**20``, and left a loop of products
alone, whether back to back (100 products of 256 x 256) or 0.5 ms apart (20 of 512 x 512):
a product that comes later than that wakes sleeping workers, a cost lost in the noise.
Set ``OPENBLAS_THREAD_TIMEOUT`` yourself (4 to 30, the exponent) and OpenBLAS is left alone;
set it before starting a Jupyter kernel, whose own threads make this module leave OpenBLAS
alone (a thread stopped inside a product would hang its process).
"""

from __future__ import annotations

import ctypes
import os
import sys
import threading
import warnings

SPIN_COUNT = "30000"
_USER_KNOBS = ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")
_OTHER_LAYERS = ("tbb", "workqueue")  # NUMBA_THREADING_LAYER values that need no libgomp


# OpenBLAS's workers spin for 2**BLAS_TIMEOUT clock ticks (about 50 microseconds) after a
# product, instead of 2**28; the names by which its builds export ``openblas_get_parallel``.
BLAS_TIMEOUT = "17"
_GET_PARALLEL = (
    "openblas_get_parallel",
    "scipy_openblas_get_parallel64_",
    "scipy_openblas_get_parallel",
)
_PTHREADS = 1  # openblas_get_parallel(): 0 sequential, 1 pthreads, 2 OpenMP

_loaded = False
_launched = False
_blas_done: set[str] = set()
_foreign_gomp: set[str] = set()  # GNU OpenMP runtimes loaded before npsoftmax, default spin


class LongSpinWarning(UserWarning):
    """Numba's kernels run on a GNU OpenMP loaded before npsoftmax, with its long idle spin."""


LONG_SPIN_MESSAGE = (
    "npsoftmax: Numba's thread pool runs on a GNU OpenMP runtime that was loaded before "
    "npsoftmax (PyTorch loads one when imported), with its default idle spin: after each "
    "parallel kernel the workers keep their cores busy for milliseconds, and NumPy's matrix "
    "products wait for them (an AdaptiveLogSoftmaxWithLoss training step took 6x as long on "
    "16 cores). Import npsoftmax before PyTorch, or set GOMP_SPINCOUNT=30000 (or "
    "OMP_WAIT_POLICY=passive) in the environment before Python starts."
)


def _loaded_libraries() -> set[str]:
    """The paths of the shared libraries in this process (Linux: its memory map; else empty)."""
    try:
        with open("/proc/self/maps") as maps:
            return {line.split()[-1] for line in maps if ".so" in line}
    except OSError:
        return set()


def _gomp_paths() -> set[str]:
    """The GNU OpenMP runtimes in this process (their paths)."""
    return {path for path in _loaded_libraries() if "libgomp" in os.path.basename(path)}


def _gomp_loaded() -> bool:
    """Whether a GNU OpenMP runtime is already in this process."""
    return bool(_gomp_paths())


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
    if not sys.platform.startswith("linux") or layer in _OTHER_LAYERS:
        return
    if _gomp_loaded():
        if not any(name in os.environ for name in _USER_KNOBS):
            _foreign_gomp.update(_gomp_paths())  # checked at the pool's launch
        return

    def load() -> None:
        try:
            ctypes.CDLL("libgomp.so.1", mode=ctypes.RTLD_GLOBAL)
        except OSError:
            pass

    _with_short_spin(load)


def _shorten_spin_of(lib: ctypes.CDLL) -> None:
    """Restart one OpenBLAS's workers with the short spin; nothing if not a pthreads build."""
    try:
        read_env, stop = lib.openblas_read_env, lib.blas_thread_shutdown_
        get_parallel = next(getattr(lib, n) for n in _GET_PARALLEL if hasattr(lib, n))
    except (AttributeError, StopIteration):
        return
    if get_parallel() != _PTHREADS:
        return
    os.environ["OPENBLAS_THREAD_TIMEOUT"] = BLAS_TIMEOUT
    try:
        read_env()  # the timeout is kept, to be used when the workers (re)start
    finally:
        del os.environ["OPENBLAS_THREAD_TIMEOUT"]
    stop()  # the next parallel product starts them again


def shorten_blas_spin() -> None:
    """Shorten the idle spin of every loaded OpenBLAS not yet seen (see the module docstring).

    Left alone: any OpenBLAS when the user set ``OPENBLAS_THREAD_TIMEOUT``, an OpenMP or
    sequential build, and everything while another Python thread is running.
    """
    if "OPENBLAS_THREAD_TIMEOUT" in os.environ or threading.active_count() > 1:
        return
    for path in sorted(_loaded_libraries() - _blas_done):
        if "openblas" in os.path.basename(path).lower():
            _blas_done.add(path)
            try:
                _shorten_spin_of(ctypes.CDLL(path))
            except OSError:
                pass


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
    shorten_blas_spin()
    before = _gomp_paths()
    _with_short_spin(numba.get_num_threads)  # launches the pool (a no-op once it runs)
    _launched = True
    _warn_if_long_spin(numba, loaded_now=_gomp_paths() - before)


def _warn_if_long_spin(numba, loaded_now: set[str]) -> None:
    """Warn if the pool runs on a GNU OpenMP loaded before npsoftmax with the default spin.

    That is: such a runtime was found at import, the pool's layer is OpenMP, more than one
    thread may run, and no GNU OpenMP was loaded by the launch itself (which would have read
    the short spin, and is then the one Numba uses).
    """
    if not _foreign_gomp or loaded_now or numba.config.NUMBA_NUM_THREADS < 2:
        return
    try:
        layer = numba.threading_layer()
    except ValueError:  # no pool launched after all
        return
    if layer == "omp":
        warnings.warn(LONG_SPIN_MESSAGE, LongSpinWarning, stacklevel=_caller_level())


_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep  # npsoftmax/


def _caller_level() -> int:
    """The ``stacklevel`` of the first frame outside npsoftmax, seen from the caller."""
    frame, level = sys._getframe(1), 1
    while frame.f_back is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame, level = frame.f_back, level + 1
    return level


# Inputs below this many entries run a kernel's serial twin: waking the pool costs more.
PARALLEL_MIN_SIZE = 1 << 16


def pick(parallel, serial, size: int):
    """The parallel twin of a kernel for ``size >= PARALLEL_MIN_SIZE`` entries, else the serial.

    The first pick of a parallel twin launches the thread pool (:func:`launch_thread_pool`), as
    Numba would at that call: never earlier, so that a process which only ran small inputs may
    still fork children that use the pool (GNU OpenMP does not survive a fork once started).
    """
    if size >= PARALLEL_MIN_SIZE:
        launch_thread_pool()
        return parallel
    return serial
