"""python -m npsoftmax check: user mistakes get one line on stderr and exit 2, never a traceback;
a non-deterministic function is a reported failure (exit 1), not a Hypothesis crash."""

import textwrap

import pytest

from npsoftmax.__main__ import main
from npsoftmax._check_cli import EXIT_BAD_TARGET, EXIT_FAIL

pytest.importorskip("hypothesis")


@pytest.fixture
def review_module(tmp_path, monkeypatch):
    (tmp_path / "reviewmod.py").write_text(
        textwrap.dedent(
            """
            import numpy as np
            import scipy.special as sp

            rng = np.random.default_rng(0)

            def good(x, axis=-1):
                return sp.softmax(x, axis=axis)

            def flaky(x, axis=-1):
                y = sp.softmax(x, axis=axis)
                return y * 1.1 if rng.random() < 0.3 else y

            def torch_out(x):
                import torch
                return torch.softmax(torch.tensor(x, requires_grad=True), -1)
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    return "reviewmod"


@pytest.mark.parametrize("axis", ["25", "-30"])
def test_a_huge_axis_is_one_line_and_status_2(review_module, capsys, axis):
    assert main(["check", f"{review_module}:good", "--axis", axis]) == EXIT_BAD_TARGET
    err = capsys.readouterr().err.strip()
    assert "axis must be between -8 and 7" in err and "\n" not in err


def test_the_probe_lays_its_entries_along_the_axis(review_module):
    assert main(["check", f"{review_module}:good", "--axis", "-3", "--max-examples", "3"]) == 0


def test_a_tensor_requiring_grad_is_one_line_and_status_2(review_module, capsys):
    pytest.importorskip("torch")
    assert main(["check", f"{review_module}:torch_out"]) == EXIT_BAD_TARGET
    err = capsys.readouterr().err.strip()
    assert "np.asarray cannot convert fn's Tensor" in err and "\n" not in err


def test_a_non_deterministic_fn_is_a_failure_not_a_traceback(review_module, capsys):
    argv = ["check", f"{review_module}:flaky", "--max-examples", "30"]
    assert main(argv) == EXIT_FAIL
    out = capsys.readouterr().out
    assert "fn is not deterministic on this input" in out and "x = np.array(" in out
