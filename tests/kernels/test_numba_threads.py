"""The thread pool's launch: a short OpenMP spin for libgomp, invisible to everyone else."""

from __future__ import annotations

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
    assert added == "0"  # and no thread was started: a fork is still safe


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
