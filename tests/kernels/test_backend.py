"""Backend selection: get/set/use_backend, and the NPSOFTMAX_BACKEND environment variable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import npsoftmax
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
