"""The thread pool's launch: a short OpenMP spin for libgomp, invisible to everyone else."""

from __future__ import annotations

import os

import pytest

from npsoftmax.kernels import numba_threads


def _record_launch(monkeypatch) -> list:
    """Stand in for Numba's pool launch; record the GOMP_SPINCOUNT libgomp would read."""
    seen: list = []

    def launch() -> int:
        seen.append(os.environ.get("GOMP_SPINCOUNT"))
        return 1

    monkeypatch.setattr(numba_threads.numba, "get_num_threads", launch)
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
