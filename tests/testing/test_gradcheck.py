"""check_grads: passes on correct ops, fails with a precise AssertionError on a wrong backward,
and refuses what it cannot check."""

import numpy as np
import pytest

import npsoftmax as nps
from npsoftmax.autograd import Function
from npsoftmax.autograd.elementwise import TanhFunction
from npsoftmax.functional import SoftmaxFunction
from npsoftmax.testing import check_grads

RNG = np.random.default_rng(0)


class WrongTanh(TanhFunction):
    """tanh with a deliberately wrong VJP: 1 - y instead of 1 - y^2."""

    def backward(self, g):
        (out,) = self.saved_arrays
        return (g * (1 - out),)


class SlightlyWrongExp(Function):
    """exp whose gradient is off by a relative 1e-3 in one element only."""

    def forward(self, x):
        out = np.exp(x)
        self.save_for_backward(out)
        return out

    def backward(self, g):
        (out,) = self.saved_arrays
        dx = g * out
        dx.flat[2] *= 1.001
        return (dx,)


class ForgetsSecondInput(Function):
    """x * y whose backward claims y has no influence."""

    def forward(self, x, y):
        self.save_for_backward(x, y)
        return x * y

    def backward(self, g):
        x, y = self.saved_arrays
        return g * y, np.zeros_like(g * x)


@pytest.mark.parametrize(
    "f",
    [
        lambda x: nps.tanh(x),
        lambda x: nps.sum(nps.exp(x) * x, axis=0),
        lambda x: nps.log(x * x + 1.0).mean(),
        lambda x: x.T @ x,
    ],
)
def test_passes_on_correct_ops(f):
    assert check_grads(f, RNG.normal(size=(3, 2))) is None


def test_passes_on_several_inputs_of_mixed_dtypes_and_kinds():
    a = nps.tensor(RNG.normal(size=(2, 3)), dtype=np.float32)  # checked in float64
    b = RNG.normal(size=(3,)).tolist()
    check_grads(lambda s, t: nps.sigmoid(s) * t, a, b)


def test_passes_when_the_output_ignores_an_input_and_on_empty_inputs():
    check_grads(lambda x, y: x * 2.0, RNG.normal(size=3), RNG.normal(size=2))
    check_grads(lambda x: x * 2.0, np.empty((0, 3)))


def test_passes_on_a_large_input_with_directional_checks_only():
    x = RNG.normal(size=(20, 30))
    check_grads(lambda t: nps.tanh(t) @ np.ones(30), x)


def test_fails_on_a_wrong_backward_naming_input_values_and_tolerance():
    with pytest.raises(AssertionError) as info:
        check_grads(lambda x: WrongTanh.apply(x), RNG.normal(size=(2, 2)))
    message = str(info.value)
    assert "input 0 (shape (2, 2))" in message
    assert "analytic" in message and "numeric" in message and "tolerance" in message


def test_fails_on_a_wrong_backward_for_a_large_input():
    with pytest.raises(AssertionError, match="directional derivative"):
        check_grads(lambda x: WrongTanh.apply(x), RNG.normal(size=(10, 10)))


def test_the_full_jacobian_names_the_worst_entry():
    x = RNG.normal(size=(2, 2))
    with pytest.raises(AssertionError, match=r"Jacobian entry d y\[1, 0\] / d x\[1, 0\]"):
        check_grads(lambda t: SlightlyWrongExp.apply(t), x, n_directions=0)


def test_a_wrong_gradient_of_the_second_input_is_named():
    with pytest.raises(AssertionError, match="input 1"):
        check_grads(ForgetsSecondInput.apply, RNG.normal(size=3), RNG.normal(size=3))


def test_a_large_output_is_checked_through_the_random_cotangent():
    x = RNG.normal(size=3)
    with pytest.raises(AssertionError, match=r"d <u, y> / d x\["):
        check_grads(lambda t: nps.broadcast_to(WrongTanh.apply(t), (30, 3)), x, n_directions=0)


def test_tolerances_are_respected():
    x = RNG.normal(size=4)
    with pytest.raises(AssertionError):
        check_grads(lambda t: SlightlyWrongExp.apply(t), x)
    check_grads(lambda t: SlightlyWrongExp.apply(t), x, rtol=1e-2)


def test_refuses_integer_inputs_and_non_tensor_outputs():
    with pytest.raises(TypeError, match="input 1 must be floating point"):
        check_grads(lambda x, y: x, np.ones(2), np.array([1, 2]))
    with pytest.raises(TypeError, match="must return a floating-point Tensor"):
        check_grads(lambda x: x.data, np.ones(2))
    with pytest.raises(ValueError, match="eps must be positive"):
        check_grads(lambda x: x, np.ones(2), eps=0.0)


def test_does_not_modify_its_inputs():
    x = RNG.normal(size=(2, 3))
    t = nps.tensor(x.copy(), requires_grad=True)
    check_grads(lambda a, b: a * b, x, t)
    np.testing.assert_array_equal(t.data, x)
    assert t.grad is None


class ScaledSum(Function):
    """x.sum() whose gradient is scaled by ``k`` (1 is correct), optionally in one element only."""

    def forward(self, x, k=1.0, one_element=False):
        self.shape, self.k, self.one_element = x.shape, k, one_element
        return np.sum(x)

    def backward(self, g):
        dx = np.full(self.shape, g, dtype=np.float64)
        if self.one_element:
            dx.flat[-1] *= self.k
        else:
            dx *= self.k
        return (dx,)


class NoGradient(Function):
    """exp whose backward returns None: the engine treats the input as not influencing it."""

    def forward(self, x):
        return np.exp(x)

    def backward(self, g):
        return (None,)


def test_works_inside_no_grad_and_restores_the_mode():
    x = RNG.normal(size=(2, 3))
    with nps.no_grad():
        check_grads(nps.softmax, x)
        with pytest.raises(AssertionError, match="wrong gradient"):
            check_grads(lambda t: WrongTanh.apply(t), x)
        assert not nps.is_grad_enabled()
    assert nps.is_grad_enabled()


# Correct functions at magnitudes where an absolute step loses digits to rounding.
LARGE = [
    pytest.param(lambda t: t.sum(), 1e3 + RNG.normal(size=100), id="sum-1e3"),
    pytest.param(lambda t: (t * 1.0).sum(), 1e6 + RNG.normal(size=100), id="sum-1e6"),
    pytest.param(nps.logsumexp, np.array([1e5, 1e5 + 0.5, 1e5 - 1.0]), id="logsumexp-1e5"),
    pytest.param(nps.logsumexp, np.array([1e12, 1e12 + 1.0]), id="logsumexp-1e12"),
    pytest.param(nps.softmax, 1e5 + RNG.normal(size=(2, 4)), id="softmax-1e5"),
    pytest.param(nps.softmax, 1e5 + RNG.normal(size=100), id="softmax-1e5-directional"),
    pytest.param(nps.log_softmax, 1e5 + RNG.normal(size=(2, 4)), id="log_softmax-1e5"),
]


@pytest.mark.parametrize("f, x", LARGE)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_passes_on_correct_ops_at_large_magnitudes(f, x, seed):
    check_grads(f, x, seed=seed)


# A bug is caught when it exceeds the tolerance, whose rounding allowance grows with |y|: a sum
# of 100 values near 1e3 allows about 1e-4 relative, so every bug below is caught there; near
# 1e5 (an output near 1e7) only gross ones can be.
@pytest.mark.parametrize(
    "k, one_element, size, scale",
    [
        (2.0, False, 100, 0.0),
        (2.0, False, 100, 1e3),
        (2.0, False, 100, 1e5),
        (1 + 1e-3, False, 100, 0.0),
        (1 + 1e-3, False, 100, 1e3),
        (1.01, True, 1000, 0.0),
        (1.01, True, 1000, 1.0),
        (1.01, True, 10, 0.0),
        (1.01, True, 10, 1e3),
        (1.01, True, 10, 1e5),
    ],
)
def test_still_catches_wrong_gradients_at_large_magnitudes(k, one_element, size, scale):
    x = scale + RNG.normal(size=size)
    check_grads(lambda t: ScaledSum.apply(t, one_element=one_element), x)
    with pytest.raises(AssertionError, match="wrong gradient"):
        check_grads(lambda t: ScaledSum.apply(t, k=k, one_element=one_element), x)


def test_catches_a_missing_gradient():
    with pytest.raises(AssertionError, match="analytic 0 vs"):
        check_grads(lambda t: NoGradient.apply(t), RNG.normal(size=(3, 4)))


def test_the_message_states_the_rounding_allowance():
    with pytest.raises(AssertionError, match=r"rounding allowance [0-9.e+-]+\)"):
        check_grads(lambda t: WrongTanh.apply(t), RNG.normal(size=3))


def test_infinite_inputs_are_not_stepped_and_need_a_zero_gradient():
    x = np.array([[0.3, -np.inf, -1.2, 2.0]])
    check_grads(nps.softmax, x)  # no NaN step from inf - inf, and no RuntimeWarning
    check_grads(nps.sigmoid, np.array([np.inf, -np.inf, 0.3]))  # sigmoid' is exactly 0 at +-inf
    with pytest.raises(AssertionError, match=r"d x\[1\]"):
        check_grads(lambda t: GradientAtMinusInf.apply(t), np.array([0.5, -np.inf]))


class GradientAtMinusInf(Function):
    """sum(exp(x)) whose gradient is wrongly 1 (not exp(-inf) = 0) at -inf entries."""

    def forward(self, x):
        self.save_for_backward(x)
        return np.sum(np.exp(x))

    def backward(self, g):
        (x,) = self.saved_arrays
        return (g * np.exp(x) + (x == -np.inf),)


class DoubledSoftmax(SoftmaxFunction):
    """softmax with its VJP twice too large."""

    def backward(self, g):
        (dx,) = super().backward(g)
        return (2.0 * dx,)


def test_a_large_constant_output_does_not_hide_a_wrong_gradient():
    # A masked_fill(-1e9) beside the outputs: bit-identical at x + d and x - d, so it adds no
    # rounding and must add no allowance (it used to make a 2x error pass).
    x = RNG.normal(size=(8, 16))
    mask = RNG.random((8, 16)) < 0.5
    check_grads(lambda t: nps.where(mask, -1e9, nps.softmax(t)), x)
    with pytest.raises(AssertionError, match="wrong gradient"):
        check_grads(lambda t: nps.where(mask, -1e9, DoubledSoftmax.apply(t)), x)


class HalfExp(Function):
    """exp whose VJP is half the right one."""

    def forward(self, x):
        out = np.exp(x)
        self.save_for_backward(out)
        return out

    def backward(self, g):
        (out,) = self.saved_arrays
        return (g * out * 0.5,)


# exp(709.78271289338397) is the largest float64 below the overflow: exp(x + 1e-6) is inf.
EDGE_OF_EXP = np.array([709.7827128933])


@pytest.mark.filterwarnings("ignore:overflow encountered")
def test_a_numeric_derivative_that_overflows_does_not_pass_a_wrong_gradient():
    assert np.isfinite(np.exp(EDGE_OF_EXP)).all()
    with np.errstate(over="ignore"):
        assert np.isinf(np.exp(EDGE_OF_EXP + 1e-6)).all()
    # The numeric side is inf, so an inf tolerance (or inf == inf) used to pass anything.
    with pytest.raises(AssertionError, match=r"cannot check .* numeric derivative is -?inf"):
        check_grads(lambda t: HalfExp.apply(t), EDGE_OF_EXP)
    with pytest.raises(AssertionError, match=r"cannot check .* Jacobian entry d y\[0\] / d x\[0\]"):
        check_grads(lambda t: HalfExp.apply(t), EDGE_OF_EXP, n_directions=0)
    # A correct exp cannot be checked there either, and says so rather than passing.
    with pytest.raises(AssertionError, match="cannot check"):
        check_grads(nps.exp, EDGE_OF_EXP)
    # One step below, the same wrong gradient is an ordinary failure, the right one passes.
    check_grads(nps.exp, EDGE_OF_EXP - 1.0)
    with pytest.raises(AssertionError, match="wrong gradient"):
        check_grads(lambda t: HalfExp.apply(t), EDGE_OF_EXP - 1.0)


def test_a_function_that_turns_nan_within_the_step_cannot_be_checked():
    # log at 0: log(-d) is NaN, so the numeric derivative is NaN; it must not pass.
    with np.errstate(invalid="ignore", divide="ignore"):
        with pytest.raises(AssertionError, match=r"cannot check .* numeric derivative is nan"):
            check_grads(nps.log, np.array([0.0, 1.0]))


@pytest.mark.parametrize("shape", [(9, 8), (3, 4)])  # directional checks only; full Jacobian
def test_a_nan_output_row_leaves_the_other_rows_checked(shape):
    x = RNG.normal(size=shape)
    x[0, 0] = np.nan  # row 0 of the softmax is NaN, at x and at every step
    assert np.isnan(nps.softmax(x)[0]).all() and np.isfinite(nps.softmax(x)[1:]).all()
    check_grads(nps.softmax, x)  # the NaN row is left out, not a failure
    check_grads(nps.log_softmax, x)
    # Every directional check used to be NaN on both sides, and NaN counted as a match.
    with pytest.raises(AssertionError, match="wrong gradient"):
        check_grads(lambda t: DoubledSoftmax.apply(t), x)


class NanOutsideTheNanRow(SoftmaxFunction):
    """softmax whose VJP is NaN for element [1, 0], which a finite output row depends on."""

    def backward(self, g):
        (dx,) = super().backward(g)
        dx = dx.copy()
        dx[1, 0] = np.nan
        return (dx,)


@pytest.mark.parametrize("shape", [(9, 8), (3, 4)])
def test_a_nan_gradient_is_read_as_zero_only_where_the_numeric_side_agrees(shape):
    # With a NaN output row the analytic NaNs are read as 0: a wrong NaN of an element that
    # moves the finite rows then misses the numeric derivative.
    x = RNG.normal(size=shape)
    x[0, 0] = np.nan
    with pytest.raises(AssertionError, match="wrong gradient"):
        check_grads(lambda t: NanOutsideTheNanRow.apply(t), x)
    x[0, 0] = 0.0  # and without a NaN output, a NaN gradient is a failure as it always was
    with pytest.raises(AssertionError, match="analytic nan"):
        check_grads(lambda t: NanOutsideTheNanRow.apply(t), x)


def test_a_constant_infinite_output_adds_nothing():
    # A masked_fill(-inf) is -inf at x and at every step: its difference is 0, not
    # -inf - -inf = NaN, so the other outputs are checked (a correct softmax passes, a 2x VJP
    # does not).
    x = RNG.normal(size=(8, 16))
    mask = RNG.random((8, 16)) < 0.5
    check_grads(lambda t: nps.where(mask, -np.inf, nps.softmax(t)), x)
    with pytest.raises(AssertionError, match="wrong gradient"):
        check_grads(lambda t: nps.where(mask, -np.inf, DoubledSoftmax.apply(t)), x)
