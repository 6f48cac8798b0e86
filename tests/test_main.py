"""python -m npsoftmax: the tour passes its live checks; the check subcommand judges user code."""

import subprocess
import sys
import textwrap

import pytest

from npsoftmax.__main__ import main

pytest.importorskip("hypothesis")


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    """A module of user softmaxes, good and broken, importable as ``usermod``."""
    (tmp_path / "usermod.py").write_text(
        textwrap.dedent(
            """
            import numpy as np
            import scipy.special as sp

            def good(x, axis=-1):
                return sp.softmax(x, axis=axis)

            def naive(x):
                return np.exp(x) / np.exp(x).sum(axis=-1, keepdims=True)

            def lse(x, axis=-1):
                return sp.logsumexp(x, axis=axis)

            def scalar(x):
                return 1.0

            def raises(x):
                raise RuntimeError("kaboom")

            def float64_out(x, axis=-1):  # ignores the input's dtype
                return sp.softmax(np.asarray(x, dtype=np.float64), axis=axis)

            def float32_broken(x, axis=-1):  # right in float64, 1% off in float32
                y = sp.softmax(x, axis=axis)
                return y if y.dtype == np.float64 else (y * 1.01).astype(y.dtype)

            from tests.testing.test_properties_catch_bugs import eight_ulps_on_the_largest

            NOT_CALLABLE = 3
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    return "usermod"


def test_tour_passes_quickly(capsys):
    assert main(["--steps", "60", "--backend", "numpy"]) == 0
    out = capsys.readouterr().out
    for name in ["sparsemax", "entmax_bisect", "gumbel_softmax", "unified_max_softmax", "Summary"]:
        assert name in out
    assert "FAILED" not in out and "all checks passed" in out


def test_check_passes_a_correct_softmax(user_module, capsys):
    assert main(["check", f"{user_module}:good", "--max-examples", "15"]) == 0
    out = capsys.readouterr().out
    assert out.count("PASS") == 6 and "6 of 6 properties hold" in out


def test_check_fails_a_naive_softmax_with_its_smallest_input(user_module, capsys):
    argv = ["check", f"{user_module}:naive", "--dtype", "float32", "--max-examples", "15"]
    assert main(argv) == 1
    out = capsys.readouterr().out
    assert "FAIL  shift invariance" in out and "smallest failing input: x = np.array(" in out


def test_check_ulps_option_is_the_tolerance(user_module, capsys):
    # An 8-ulp bias fails the default 4-eps agreement and passes at --ulps 32.
    argv = ["check", f"{user_module}:eight_ulps_on_the_largest", "--max-examples", "30"]
    assert main(argv) == 1
    assert "FAIL  agreement (4 eps relative)" in capsys.readouterr().out
    assert main([*argv, "--ulps", "32"]) == 0
    assert "PASS  agreement (32 eps relative)" in capsys.readouterr().out


def test_check_dtype_option_is_the_dtype_checked(user_module, capsys):
    # Returning float64 for float32 input is refused before any property runs.
    assert main(["check", f"{user_module}:float64_out", "--dtype", "float32"]) == 2
    err = capsys.readouterr().err
    assert "fn returned float64 for float32 input; expected float32" in err
    assert main(["check", f"{user_module}:float64_out", "--max-examples", "10"]) == 0
    # The properties run in the dtype asked for: a float32-only bug is found only there.
    argv = ["check", f"{user_module}:float32_broken", "--max-examples", "15"]
    assert main(argv) == 0
    capsys.readouterr()
    assert main([*argv, "--dtype", "float32"]) == 1
    assert "FAIL  sums to one" in capsys.readouterr().out


def test_check_kind_and_axis(user_module):
    assert main(["check", f"{user_module}:lse", "--kind", "logsumexp", "--axis", "0",
                 "--max-examples", "10"]) == 0  # fmt: skip
    assert (
        main(["check", f"{user_module}:good", "--kind", "sparsemax", "--max-examples", "10"]) == 1
    )


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("no_such_module_xyz:f", "cannot import module 'no_such_module_xyz'"),
        ("usermod:missing", "has no attribute 'missing'"),
        ("usermod:NOT_CALLABLE", "is a int, not a callable"),
        ("usermod:scalar", "fn returned shape ()"),
        ("usermod:raises", "fn raised RuntimeError: kaboom"),
        ("usermod", "must look like 'package.module:function'"),
    ],
)
def test_bad_targets_get_one_line_and_status_2(user_module, capsys, target, message):
    assert main(["check", target]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and "Traceback" not in err


def test_help_documents_the_options(capsys):
    with pytest.raises(SystemExit) as info:
        main(["check", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for option in ["--kind", "--dtype", "--axis", "--max-examples", "--ulps", "Exit status"]:
        assert option in out


def test_module_runs_as_a_script():
    result = subprocess.run(
        [sys.executable, "-m", "npsoftmax", "--steps", "20", "--backend", "numpy"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "all checks passed" in result.stdout


@pytest.mark.parametrize("value", ["1", "0", "-3"])
def test_tour_refuses_fewer_than_two_mixtures(value, capsys):
    # K = 1 is one softmax, so the live check "MoS beats one softmax" could never pass.
    with pytest.raises(SystemExit) as info:
        main(["--mixtures", value, "--steps", "0"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "--mixtures" in err and f"must be at least 2, got {value}" in err


def test_tour_help_states_the_mixtures_minimum(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    assert "at least 2" in " ".join(capsys.readouterr().out.split())


def test_tour_function_refuses_one_mixture():
    from npsoftmax.__main__ import tour

    with pytest.raises(ValueError, match=r"num_mixtures must be at least 2 .*got 1\."):
        tour(steps=10, num_mixtures=1)
