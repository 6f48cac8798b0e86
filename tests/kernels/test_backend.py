"""Backend selection: get/set/use_backend, and the NPSOFTMAX_BACKEND environment variable."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

import npsoftmax
import npsoftmax as nps
from npsoftmax import _backend
from npsoftmax._backend import get_backend, set_backend, use_backend

# Where this npsoftmax was imported from, so a subprocess imports the same one.
ROOT = str(Path(npsoftmax.__file__).resolve().parent.parent)


@pytest.fixture(autouse=True)
def _restore_backend():
    before = get_backend()
    yield
    set_backend(before)


def test_backends_listed():
    assert _backend.BACKENDS == ("numba", "numpy")


@pytest.mark.parametrize("name", ["numpy", "numba"])
def test_set_and_get(name):
    set_backend(name)
    assert get_backend() == name


@pytest.mark.parametrize("bad", ["cuda", "NumPy", "", None, 1])
def test_invalid_name_is_refused_with_the_choices(bad):
    before = get_backend()
    with pytest.raises(ValueError, match="'numba', 'numpy'") as info:
        set_backend(bad)
    assert repr(bad) in str(info.value)
    assert get_backend() == before
    with pytest.raises(ValueError), use_backend(bad):
        pass  # pragma: no cover - never entered
    assert get_backend() == before


def test_use_backend_restores_the_previous_backend():
    set_backend("numba")
    with use_backend("numpy") as name:
        assert name == "numpy"
        assert get_backend() == "numpy"
        with use_backend("numba"):
            assert get_backend() == "numba"
        assert get_backend() == "numpy"
    assert get_backend() == "numba"


def test_use_backend_restores_after_an_exception():
    set_backend("numpy")
    with pytest.raises(KeyError), use_backend("numba"):
        assert get_backend() == "numba"
        raise KeyError("boom")
    assert get_backend() == "numpy"


def test_set_backend_inside_a_block_takes_effect_there_and_outlives_it():
    set_backend("numba")
    with use_backend("numba"):
        set_backend("numpy")
        assert get_backend() == "numpy"
        with use_backend("numba"):
            assert get_backend() == "numba"
        assert get_backend() == "numpy"
    assert get_backend() == "numpy"


# Every wait in the thread tests is bounded, so a regression fails instead of hanging.
WAIT = 30


def _in_thread(fn):
    """Run ``fn()`` in a new thread and return its result (or raise its exception)."""
    box = {}

    def run():
        try:
            box["value"] = fn()
        except BaseException as err:  # pragma: no cover - re-raised below
            box["error"] = err

    t = threading.Thread(target=run)
    t.start()
    t.join(WAIT)
    assert not t.is_alive()
    if "error" in box:  # pragma: no cover - only on failure
        raise box["error"]
    return box["value"]


def test_a_new_thread_sees_the_process_wide_backend_not_the_block():
    set_backend("numba")
    with use_backend("numpy"):
        assert _in_thread(get_backend) == "numba"
        set_backend("numba")  # from this thread: ends the block's choice here only
        assert _in_thread(get_backend) == "numba"


def test_a_block_in_one_thread_is_invisible_to_another():
    set_backend("numba")
    entered, leave = threading.Event(), threading.Event()
    seen = []

    def worker():
        with use_backend("numpy"):
            seen.append(get_backend())
            entered.set()
            assert leave.wait(WAIT)
        seen.append(get_backend())

    t = threading.Thread(target=worker)
    t.start()
    try:
        assert entered.wait(WAIT)
        assert get_backend() == "numba"  # the worker's block does not leak here
        set_backend("numba")  # nor does a process-wide set reach into the worker's block
    finally:
        leave.set()
        t.join(WAIT)
    assert seen == ["numpy", "numba"]
    assert get_backend() == "numba"


def test_overlapping_blocks_in_threads_restore_the_backend():
    # The interleaving that made the old global save/restore stick: A enters, B enters (and
    # saved A's "numpy" as its previous), A leaves, B leaves (and restored "numpy" for good).
    set_backend("numba")
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()

    def a():
        with use_backend("numpy"):
            a_in.set()
            assert b_in.wait(WAIT)
        a_out.set()

    def b():
        assert a_in.wait(WAIT)
        with use_backend("numpy"):
            b_in.set()
            assert a_out.wait(WAIT)

    threads = [threading.Thread(target=a), threading.Thread(target=b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT)
    assert get_backend() == "numba"
    assert _in_thread(get_backend) == "numba"


def test_concurrent_longdouble_softmax_leaves_the_backend_alone(monkeypatch):
    # The review's reproducer, made deterministic: 4 threads each run nps.softmax on longdouble
    # input (which switches to the NumPy twins internally); each enters the kernel in turn while
    # the earlier ones are still inside, and they leave in the order they came.
    from npsoftmax.kernels import reference

    set_backend("numba")
    n = 4
    inside = [threading.Event() for _ in range(n)]
    release = [threading.Event() for _ in range(n)]
    index, seen, results = {}, {}, {}
    original = reference.softmax_rows

    def blocking_softmax_rows(x, out):
        i = index[threading.get_ident()]
        seen[i] = get_backend()
        inside[i].set()
        assert release[i].wait(WAIT)
        return original(x, out)

    monkeypatch.setattr(reference, "softmax_rows", blocking_softmax_rows)
    x = np.ones((4, 8), dtype=np.longdouble)

    def worker(i):
        index[threading.get_ident()] = i
        results[i] = nps.softmax(x)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    try:
        for t, ev in zip(threads, inside):
            t.start()
            assert ev.wait(WAIT)
        assert get_backend() == "numba"  # all four are inside their "numpy" switch now
        for t, ev in zip(threads, release):
            ev.set()
            t.join(WAIT)
    finally:
        for ev in release:
            ev.set()
        for t in threads:
            t.join(WAIT)
    assert seen == dict.fromkeys(range(n), "numpy")
    assert sorted(results) == list(range(n))
    for y in results.values():
        assert y.dtype == np.longdouble
        np.testing.assert_allclose(y.astype(np.float64), np.full((4, 8), 1 / 8))
    assert get_backend() == "numba"
    assert _in_thread(get_backend) == "numba"


def _python(code: str, backend: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != _backend.ENV_VAR}
    env["PYTHONPATH"] = os.pathsep.join([ROOT, env.get("PYTHONPATH", "")])
    if backend is not None:
        env[_backend.ENV_VAR] = backend
    return subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    "value, expected", [(None, "numba"), ("", "numba"), ("numpy", "numpy"), ("numba", "numba")]
)
def test_environment_variable_sets_the_initial_backend(value, expected):
    done = _python("from npsoftmax._backend import get_backend; print(get_backend())", value)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == expected


def test_invalid_environment_variable_is_refused():
    done = _python("import npsoftmax._backend", "cuda")
    assert done.returncode != 0
    assert "ValueError" in done.stderr
    assert "NPSOFTMAX_BACKEND" in done.stderr and "'cuda'" in done.stderr
    assert "'numba', 'numpy'" in done.stderr


def test_numpy_backend_never_imports_the_numba_kernels():
    code = (
        "import sys, numpy as np\n"
        "import npsoftmax.kernels as k\n"
        "x = np.array([[1.0, 2.0, -np.inf]])\n"
        "y = k.softmax_rows(x, np.empty_like(x))\n"
        "k.log_softmax_rows(x, np.empty_like(x)); k.logsumexp_rows(x, np.empty(1))\n"
        "k.softmax_rows_vjp(y, x, np.empty_like(x))\n"
        "k.log_softmax_rows_vjp(y, x, np.empty_like(x))\n"
        "print('npsoftmax.kernels.numba_cpu' in sys.modules, y.round(3).tolist())\n"
    )
    done = _python(code, "numpy")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[0] == "False"
