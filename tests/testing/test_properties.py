"""npsoftmax.testing.check_*_like: correct implementations pass, each deliberately broken one is
caught with an AssertionError naming the property and a real (and small) failing input."""

import re

import numpy as np
import pytest
import scipy.special as sp

import npsoftmax as nps
from npsoftmax.testing import (
    check_log_softmax_like,
    check_logsumexp_like,
    check_softmax_like,
    check_sparsemax_like,
)

N = 20  # examples per property: enough to find every bug below, fast enough for the suite


# --- deliberately broken implementations -------------------------------------------------------


def no_max_subtraction(x, axis=-1):
    e = np.exp(x)
    return e / e.sum(axis=axis, keepdims=True)


def wrong_axis(x, axis=-1):
    return sp.softmax(x, axis=0)


def float16_accumulation(x, axis=-1):
    return sp.softmax(x.astype(np.float16), axis=axis).astype(x.dtype)


def not_normalised(x, axis=-1):
    return np.exp(x - x.max(axis=axis, keepdims=True))


def negative_outputs(x, axis=-1):
    return sp.softmax(x, axis=axis) - 1e-3


def naive_log_softmax(x, axis=-1):
    return np.log(no_max_subtraction(x, axis))


def log_softmax_positive(x, axis=-1):
    return sp.log_softmax(x, axis=axis) + 0.5


def naive_logsumexp(x, axis=-1):
    return np.log(np.exp(x).sum(axis=axis))


def logsumexp_is_max(x, axis=-1):
    return np.max(x, axis=axis) + 0.0


def sparsemax_is_softmax(x, axis=-1):
    return sp.softmax(x, axis=axis)


AGREE = "agreement ("  # the label goes on to state its rule

BROKEN = [
    (check_softmax_like, no_max_subtraction, np.float64, "sums to one"),
    (check_softmax_like, no_max_subtraction, np.float32, "shift invariance"),
    (check_softmax_like, wrong_axis, np.float64, "sums to one"),
    (check_softmax_like, float16_accumulation, np.float64, AGREE),
    (check_softmax_like, float16_accumulation, np.float32, AGREE),
    (check_softmax_like, not_normalised, np.float64, "sums to one"),
    (check_softmax_like, negative_outputs, np.float64, "non-negative"),
    (check_log_softmax_like, naive_log_softmax, np.float64, AGREE),
    (check_log_softmax_like, log_softmax_positive, np.float64, "non-positive"),
    (check_logsumexp_like, naive_logsumexp, np.float64, "max <= lse <= max + log n"),
    (check_logsumexp_like, logsumexp_is_max, np.float64, AGREE),
    (check_sparsemax_like, sparsemax_is_softmax, np.float64, AGREE),
]


def _reported_input(message, prop):
    """The smallest failing input printed for ``prop``, evaluated back into an array."""
    block = message.split(f"[{prop}]", 1)[1]
    code = re.search(r"smallest failing input: x = (np\.array\(.*?dtype=np\.\w+\))", block, re.S)
    return eval(code.group(1), {"np": np})  # our own message, parsed back


@pytest.mark.parametrize(
    ("check", "fn", "dtype", "prop"), BROKEN, ids=lambda v: getattr(v, "__name__", str(v))
)
def test_broken_implementations_are_caught(check, fn, dtype, prop):
    with pytest.raises(AssertionError) as info:
        check(fn, dtype=dtype, max_examples=N)
    message = str(info.value)
    assert f"[{prop}" in message
    assert "smallest failing input" in message


def test_the_reported_input_is_small_and_really_fails():
    with pytest.raises(AssertionError) as info:
        check_softmax_like(no_max_subtraction, max_examples=N)
    x = _reported_input(str(info.value), "sums to one")
    assert x.dtype == np.float64 and x.size <= 2  # shrunk to (almost) nothing
    with np.errstate(all="ignore"):
        assert not np.isfinite(no_max_subtraction(x)).all()  # a genuine counterexample
    assert np.isfinite(nps.softmax(x)).all()  # on which the maths has an answer


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_reference_implementations_pass(dtype):
    assert check_softmax_like(nps.softmax, dtype=dtype, max_examples=N) is None
    assert (
        check_softmax_like(lambda x, axis: sp.softmax(x, axis=axis), dtype=dtype, max_examples=N)
        is None
    )
    assert (
        check_log_softmax_like(
            lambda x, axis: sp.log_softmax(x, axis=axis), dtype=dtype, max_examples=N
        )
        is None
    )
    assert (
        check_logsumexp_like(
            lambda x, axis: sp.logsumexp(x, axis=axis), dtype=dtype, max_examples=N
        )
        is None
    )
    assert check_sparsemax_like(nps.sparsemax, dtype=dtype, max_examples=N) is None


@pytest.mark.parametrize("axis", [0, -2])
def test_axis_is_honoured_with_and_without_an_axis_parameter(axis):
    check_softmax_like(lambda x, axis: sp.softmax(x, axis=axis), axis=axis, max_examples=N)
    check_softmax_like(lambda x: sp.softmax(x, axis=-1), axis=axis, max_examples=N)  # moved last
    check_logsumexp_like(lambda x: sp.logsumexp(x, axis=-1), axis=axis, max_examples=N)
    with pytest.raises(AssertionError, match="sums to one"):
        check_softmax_like(lambda x: sp.softmax(x, axis=0), axis=axis, max_examples=N)


def test_float16_inputs_are_supported():
    def softmax16(x, axis):
        return sp.softmax(x.astype(np.float32), axis=axis).astype(np.float16)

    check_softmax_like(softmax16, dtype=np.float16, max_examples=N)


@pytest.mark.parity
def test_torch_softmax_passes():
    torch = pytest.importorskip("torch")
    for dtype in (np.float32,):
        check_softmax_like(
            lambda x: torch.softmax(torch.from_numpy(x), dim=-1).numpy(),
            dtype=dtype,
            max_examples=N,
        )
        check_log_softmax_like(
            lambda x: torch.log_softmax(torch.from_numpy(x), dim=-1).numpy(),
            dtype=dtype,
            max_examples=N,
        )
        check_logsumexp_like(
            lambda x: torch.logsumexp(torch.from_numpy(x), dim=-1).numpy(),
            dtype=dtype,
            max_examples=N,
        )


def test_contract_violations_are_findings_not_crashes():
    with pytest.raises(AssertionError, match=r"fn returned shape \(\), expected"):
        check_softmax_like(lambda x: np.float64(1.0), max_examples=5)
    with pytest.raises(AssertionError, match="fn raised ZeroDivisionError: division by zero"):
        check_softmax_like(lambda x: 1 / 0 if x.size else x, max_examples=5)
    with pytest.raises(AssertionError, match="not an array of real numbers"):
        check_softmax_like(lambda x: "text", max_examples=5)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="float16, float32 or float64"):
        check_softmax_like(nps.softmax, dtype=np.int32)
    with pytest.raises(TypeError, match="axis must be an integer"):
        check_softmax_like(nps.softmax, axis=None)
    with pytest.raises(ValueError, match="max_examples must be at least 1"):
        check_softmax_like(nps.softmax, max_examples=0)
    with pytest.raises(TypeError, match="max_examples must be an integer"):
        check_softmax_like(nps.softmax, max_examples=2.5)
    with pytest.raises(ValueError, match="ulps must be a positive number"):
        check_logsumexp_like(nps.logsumexp, ulps=-1)


def test_public_names_are_lazily_exported():
    from npsoftmax.testing import properties

    assert nps.testing.check_softmax_like is properties.check_softmax_like
    assert set(nps.testing.__all__) <= set(dir(nps.testing))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        nps.testing.nope  # noqa: B018
