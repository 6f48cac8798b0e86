"""The thread pool's launch: a short OpenMP spin for libgomp, invisible to everyone else."""

from __future__ import annotations

import ctypes
import json
import os
import subprocess
import sys
import textwrap

import numba
import pytest

from npsoftmax.kernels import numba_threads


def _record_launch(monkeypatch) -> list:
    """Stand in for Numba's pool launch; record the GOMP_SPINCOUNT libgomp would read."""
    seen: list = []

    def launch() -> int:
        seen.append(os.environ.get("GOMP_SPINCOUNT"))
        return 1

    monkeypatch.setattr(numba, "get_num_threads", launch)
    monkeypatch.setattr(numba_threads, "_launched", False)  # as in a fresh process
    monkeypatch.setattr(numba_threads, "_foreign_gomp", set())
    monkeypatch.setattr(numba_threads, "_loaded", True)  # the runtime: see _record_load
    return seen


def _record_load(monkeypatch, loaded: bool = False) -> list:
    """Stand in for loading libgomp; record the GOMP_SPINCOUNT it would read."""
    seen: list = []

    def load(name, mode=0):
        seen.append((name, os.environ.get("GOMP_SPINCOUNT")))

    monkeypatch.setattr(numba_threads.ctypes, "CDLL", load)
    monkeypatch.setattr(numba_threads, "_gomp_loaded", lambda: loaded)
    monkeypatch.setattr(numba_threads, "_loaded", False)  # as in a fresh process
    monkeypatch.setattr(numba_threads, "_foreign_gomp", set())  # what a load finds stays here
    monkeypatch.delenv("NUMBA_THREADING_LAYER", raising=False)
    return seen


def _clean_env(monkeypatch) -> None:
    monkeypatch.delenv("GOMP_SPINCOUNT", raising=False)
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="GNU OpenMP: Linux only")
def test_load_sets_the_spin_only_while_libgomp_reads_it(monkeypatch):
    _clean_env(monkeypatch)
    seen = _record_load(monkeypatch)
    numba_threads.load_runtime()
    numba_threads.load_runtime()  # idempotent
    assert seen == [("libgomp.so.1", numba_threads.SPIN_COUNT)]
    assert "GOMP_SPINCOUNT" not in os.environ


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("GOMP_SPINCOUNT", "123"),  # the user's choice stands (libgomp reads it at the launch)
        ("OMP_WAIT_POLICY", "passive"),
        ("NUMBA_THREADING_LAYER", "workqueue"),  # no libgomp at all
    ],
)
def test_load_is_skipped_when_the_user_decided(monkeypatch, setting, value):
    _clean_env(monkeypatch)
    seen = _record_load(monkeypatch)
    monkeypatch.setenv(setting, value)
    numba_threads.load_runtime()
    if setting == "NUMBA_THREADING_LAYER":
        assert seen == []
    else:
        assert seen == [("libgomp.so.1", value if setting == "GOMP_SPINCOUNT" else None)]
    assert os.environ[setting] == value


def test_load_leaves_an_already_loaded_runtime_alone(monkeypatch):
    # PyTorch imported first: its libgomp read its settings already; loading again is pointless.
    _clean_env(monkeypatch)
    seen = _record_load(monkeypatch, loaded=True)
    numba_threads.load_runtime()
    assert seen == []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="GNU OpenMP: Linux only")
def test_import_loads_the_runtime_but_starts_no_thread():
    # Threads counted before (NumPy's BLAS may start its own) and after importing npsoftmax.
    script = (
        "import os, numpy; before = len(os.listdir('/proc/self/task')); "
        "import npsoftmax, npsoftmax.kernels.numba_threads as t; "
        "print(t._gomp_loaded(), len(os.listdir('/proc/self/task')) - before)"
    )
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in ("NPSOFTMAX_BACKEND", "GOMP_SPINCOUNT", "OMP_WAIT_POLICY", "NUMBA_THREADING_LAYER")
    }
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    loaded, added = done.stdout.split()
    assert loaded == "True"  # libgomp is here, with the short spin read at its load
    # and no thread was started, so a fork is still safe (OpenBLAS's workers may have been
    # stopped, to restart with a short spin: see the shorten_blas_spin tests)
    assert int(added) <= 0


def test_launch_leaves_the_environment_as_it_found_it(monkeypatch):
    # The spin count is set only while libgomp reads it; no other library ever sees it.
    monkeypatch.delenv("GOMP_SPINCOUNT", raising=False)
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    seen = _record_launch(monkeypatch)
    numba_threads.launch_thread_pool()
    assert seen == [numba_threads.SPIN_COUNT]
    assert "GOMP_SPINCOUNT" not in os.environ


@pytest.mark.parametrize(
    ("knob", "value"), [("GOMP_SPINCOUNT", "123"), ("OMP_WAIT_POLICY", "passive")]
)
def test_launch_respects_the_users_choice(monkeypatch, knob, value):
    monkeypatch.delenv("GOMP_SPINCOUNT", raising=False)
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    monkeypatch.setenv(knob, value)
    seen = _record_launch(monkeypatch)
    numba_threads.launch_thread_pool()
    assert seen == [value if knob == "GOMP_SPINCOUNT" else None]
    assert os.environ[knob] == value


def test_launch_happens_once(monkeypatch):
    seen = _record_launch(monkeypatch)
    numba_threads.launch_thread_pool()
    numba_threads.launch_thread_pool()
    assert len(seen) == 1


def test_small_inputs_do_not_start_the_pool_so_a_fork_may_still_use_it():
    # GNU OpenMP does not survive a fork once started (Numba terminates such a child): a process
    # that only ran serial kernels must leave the pool unstarted.  In a fresh interpreter, since
    # this one has long started its pool.
    script = textwrap.dedent(
        """
        import multiprocessing, numpy as np, npsoftmax as nps
        nps.softmax(np.ones((2, 3)))  # the serial kernel only
        def work(rows):
            return float(nps.softmax(np.ones((rows, 1000), np.float32)).sum())
        with multiprocessing.get_context("fork").Pool(1) as pool:
            print(pool.map(work, [300]))  # 300 000 entries: the parallel kernel, in the child
        """
    )
    env = {k: v for k, v in os.environ.items() if k != "NPSOFTMAX_BACKEND"}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, env=env
    )
    assert done.returncode == 0, done.stderr
    assert "[300.0]" in done.stdout


_LONG_SPIN_PROBE = textwrap.dedent(
    """
    import ctypes, sys, warnings
    if sys.argv[1] == "gomp-first":  # as PyTorch does when imported before npsoftmax
        ctypes.CDLL("libgomp.so.1", mode=ctypes.RTLD_GLOBAL)
    import numpy as np
    import npsoftmax as nps
    from npsoftmax.kernels.numba_threads import LongSpinWarning
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        nps.softmax(np.ones((300, 1000), np.float32))  # a parallel kernel: the pool starts
        nps.softmax(np.ones((300, 1000), np.float32))  # once only
    print(sum(issubclass(w.category, LongSpinWarning) for w in caught))
    """
)


def _long_spin_warnings(order: str, **env_extra: str) -> int:
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in ("NPSOFTMAX_BACKEND", "GOMP_SPINCOUNT", "OMP_WAIT_POLICY", "NUMBA_THREADING_LAYER")
    }
    env |= {"NUMBA_NUM_THREADS": "2", **env_extra}
    done = subprocess.run(
        [sys.executable, "-c", _LONG_SPIN_PROBE, order],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    return int(done.stdout.split()[-1])


def _has_system_gomp() -> bool:
    try:
        ctypes.CDLL("libgomp.so.1")
    except OSError:
        return False
    return True


@pytest.mark.skipif(
    not (sys.platform.startswith("linux") and _has_system_gomp()),
    reason="GNU OpenMP: Linux with libgomp.so.1",
)
@pytest.mark.parametrize(
    ("order", "env_extra", "expected"),
    [
        ("gomp-first", {}, 1),  # Numba on the long-spinning runtime: warned once
        ("gomp-first", {"GOMP_SPINCOUNT": "30000"}, 0),  # the user chose: silent
        ("gomp-first", {"OMP_WAIT_POLICY": "passive"}, 0),
        ("npsoftmax-first", {}, 0),  # the runtime loaded by npsoftmax, with the short spin
    ],
)
def test_a_runtime_loaded_before_npsoftmax_is_warned_about(order, env_extra, expected):
    assert _long_spin_warnings(order, **env_extra) == expected


# -- OpenBLAS's idle spin ------------------------------------------------------------------------
class _FakeOpenBLAS:
    """Stands in for an OpenBLAS library: records what shorten_blas_spin asks of it."""

    def __init__(self, parallel: int = 1, symbols: bool = True) -> None:
        self.calls: list = []
        self.parallel = parallel
        if symbols:
            self.openblas_read_env = self._read_env
            self.blas_thread_shutdown_ = lambda: self.calls.append("stop")
            self.openblas_get_parallel = lambda: self.parallel

    def _read_env(self) -> None:
        self.calls.append(("read_env", os.environ.get("OPENBLAS_THREAD_TIMEOUT")))


def _fake_blas(monkeypatch, lib: _FakeOpenBLAS, threads: int = 1) -> list:
    opened: list = []

    def cdll(path):
        opened.append(path)
        return lib

    monkeypatch.setattr(numba_threads, "_loaded_libraries", lambda: {"/x/libopenblas.so.0"})
    monkeypatch.setattr(numba_threads.ctypes, "CDLL", cdll)
    monkeypatch.setattr(numba_threads.threading, "active_count", lambda: threads)
    monkeypatch.setattr(numba_threads, "_blas_done", set())
    monkeypatch.delenv("OPENBLAS_THREAD_TIMEOUT", raising=False)
    return opened


def test_blas_spin_is_shortened_once_and_the_variable_removed(monkeypatch):
    lib = _FakeOpenBLAS()
    opened = _fake_blas(monkeypatch, lib)
    numba_threads.shorten_blas_spin()
    numba_threads.shorten_blas_spin()  # once per library
    assert opened == ["/x/libopenblas.so.0"]
    # The timeout is read while set, and the workers are stopped after (restarted with it).
    assert lib.calls == [("read_env", numba_threads.BLAS_TIMEOUT), "stop"]
    assert "OPENBLAS_THREAD_TIMEOUT" not in os.environ


@pytest.mark.parametrize(
    ("why", "lib", "threads", "user"),
    [
        ("the user chose a timeout", _FakeOpenBLAS(), 1, "20"),
        ("another Python thread may be inside a product", _FakeOpenBLAS(), 2, None),
        ("an OpenMP build has no such workers", _FakeOpenBLAS(parallel=2), 1, None),
        ("a sequential build has no workers", _FakeOpenBLAS(parallel=0), 1, None),
        ("an unknown library lacks the functions", _FakeOpenBLAS(symbols=False), 1, None),
    ],
)
def test_blas_is_left_alone_when(monkeypatch, why, lib, threads, user):
    lib.calls.clear()
    _fake_blas(monkeypatch, lib, threads)
    if user is not None:
        monkeypatch.setenv("OPENBLAS_THREAD_TIMEOUT", user)
    numba_threads.shorten_blas_spin()
    assert lib.calls == [], why
    assert os.environ.get("OPENBLAS_THREAD_TIMEOUT") == user


def _openblas_after_import(extra_env: dict) -> dict:
    """In a fresh interpreter: NumPy's OpenBLAS (timeout, threads) after import npsoftmax, and
    whether a parallel product is still right."""
    script = textwrap.dedent(
        """
        import ctypes, json, os, numpy as np
        import npsoftmax
        from npsoftmax.kernels import numba_threads as t
        paths = [p for p in t._loaded_libraries() if "openblas" in os.path.basename(p).lower()]
        lib = ctypes.CDLL(paths[0])
        get = next(getattr(lib, n) for n in ("openblas_get_num_threads",
                   "scipy_openblas_get_num_threads64_", "scipy_openblas_get_num_threads")
                   if hasattr(lib, n))
        rng = np.random.default_rng(0)
        a, b = rng.standard_normal((700, 600)), rng.standard_normal((600, 500))
        exact = np.einsum("ij,jk->ik", a, b)  # no BLAS
        print(json.dumps({"timeout": lib.openblas_thread_timeout(), "threads": get(),
                          "right": bool(np.allclose(a @ b, exact, rtol=1e-12, atol=1e-10)),
                          "variable": os.environ.get("OPENBLAS_THREAD_TIMEOUT")}))
        """
    )
    env = {k: v for k, v in os.environ.items() if k not in ("NPSOFTMAX_BACKEND",)}
    env.pop("OPENBLAS_THREAD_TIMEOUT", None)
    env.update(extra_env)
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, env=env
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _numpy_uses_pthreads_openblas() -> bool:
    for path in numba_threads._loaded_libraries():
        if "openblas" in os.path.basename(path).lower():
            lib = ctypes.CDLL(path)
            for name in numba_threads._GET_PARALLEL:
                if hasattr(lib, name):
                    return getattr(lib, name)() == numba_threads._PTHREADS
    return False


needs_openblas = pytest.mark.skipif(
    not sys.platform.startswith("linux") or not _numpy_uses_pthreads_openblas(),
    reason="NumPy's BLAS is not a pthreads OpenBLAS on Linux",
)


@needs_openblas
def test_import_shortens_numpys_openblas_spin_and_products_stay_right():
    seen = _openblas_after_import({})
    before = _openblas_after_import({"NPSOFTMAX_BACKEND": "numpy"})  # nothing done there
    assert seen["timeout"] == int(numba_threads.BLAS_TIMEOUT)
    assert before["timeout"] != seen["timeout"]
    assert seen["threads"] == before["threads"]  # as many workers as before, restarted
    assert seen["right"] and before["right"]
    assert seen["variable"] is None  # the variable was only there while OpenBLAS read it


@needs_openblas
def test_import_keeps_the_users_openblas_timeout():
    seen = _openblas_after_import({"OPENBLAS_THREAD_TIMEOUT": "20"})
    assert seen["timeout"] == 20
    assert seen["variable"] == "20"
