"""The thread pool's launch: a short OpenMP spin for libgomp, invisible to everyone else."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from npsoftmax.kernels import numba_threads


def _record_launch(monkeypatch) -> list:
    """Stand in for Numba's pool launch; record the GOMP_SPINCOUNT libgomp would read."""
    seen: list = []

    def launch() -> int:
        seen.append(os.environ.get("GOMP_SPINCOUNT"))
        return 1

    monkeypatch.setattr(numba_threads.numba, "get_num_threads", launch)
    monkeypatch.setattr(numba_threads, "_launched", False)  # as in a fresh process
    return seen


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
