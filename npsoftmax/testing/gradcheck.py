"""``check_grads``: compare reverse-mode gradients with central finite differences in float64.

Legend: ``f`` maps input Tensors ``x_0, x_1, ...`` to one output Tensor ``y``; ``u`` is an
upstream cotangent shaped like ``y``; ``J_i = dy / dx_i`` is the Jacobian of input ``i``; the
analytic VJP ``u^T J_i`` comes from ``y.backward(u)``, and ``<u^T J_i, r> / |r|`` is compared
with the numeric ``<u, y(x + d) - y(x - d)> / |r|``, where ``d`` is the step and
``r = (x + d) - (x - d)`` the step actually realised in floating point (about ``2 d``).  The
numeric value's error is ``O(|d|^2)`` from truncation plus the rounding error of the two values
of ``y``, about ``eps_machine * |y| / |d|``: for ``|y|`` of order one and ``eps = 1e-6`` that
is about 1e-10 relative, far below the default ``rtol``; for large ``|y|`` (a logsumexp near
1e5, say) it is not, and the tolerance allows for it (see :func:`check_grads`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from npsoftmax.autograd import Tensor, no_grad
from npsoftmax.autograd.grad_mode import _enable_grad

__all__ = ["check_grads"]

# How many float64 rounding errors (ulps of |y|) each value of f may carry; see _rounding.
ROUNDING_ULPS = 4
# The step is at least this many ulps of x, so that x + d and x - d differ at any magnitude.
MIN_STEP_ULPS = 1024


def check_grads(
    f: Callable[..., Tensor],
    *inputs: Any,
    eps: float = 1e-6,
    rtol: float = 1e-5,
    atol: float = 1e-7,
    n_directions: int = 3,
    full_jacobian_max: int = 64,
    seed: int = 0,
) -> None:
    """Check the gradients of ``f`` against central finite differences, in float64.

    Every input becomes a float64 Tensor that requires grad.  Two checks run:

    1. for each input and each of ``n_directions`` random directions, the directional
       derivative of ``<u, f>`` (``u`` a random cotangent) along the realised unit step
       ``w = r / |r|`` is compared with the analytic ``<u^T J_i, w>`` from ``backward``;
    2. when the inputs hold at most ``full_jacobian_max`` elements in all, the Jacobian is built
       numerically column by column (one input element at a time) and compared entry by entry
       with the analytic one, whose rows come from one ``backward`` per output element (when
       the output is that large too, rows are replaced by the one row ``u^T J``).

    An entry passes when ``|analytic - numeric| <= atol + rtol * |numeric| + rounding``, the
    numeric value being finite.  ``rounding`` allows for the rounding error of the finite
    difference itself: ``4 * eps_machine * sum_k |c_k| (|y_k(x + d)| + |y_k(x - d)|) / |r|``,
    with ``c`` the cotangent, ``d`` the step and ``r = (x + d) - (x - d)`` the realised step.  It
    is negligible (about 1e-9 for ``|y|`` and ``c`` of order one and the default ``eps``) and
    grows with ``|y|``: about 1e-4 per unit of cotangent at outputs near 1e5, 1e-2 near 1e7,
    so there only gradient errors larger than that can be told from rounding.

    Non-finite values never pass by agreeing with each other:

    * an output entry that is NaN at ``x`` has no derivative: it is left out of both checks
      (its cotangent is 0 and its Jacobian row is not compared), so that the other entries are
      still checked.  Where the output has such entries, a NaN in the analytic VJP is read as 0
      (the ``0 * NaN`` of a left-out entry's partials): the numeric derivative then checks that
      the input has no influence on the outputs that are checked;
    * an output entry equal at ``x + d`` and ``x - d`` (a constant ``-inf`` included) contributes
      a difference of 0;
    * a numeric derivative that is not finite (``f`` overflows, or turns NaN, within the step of
      an entry that is not left out) fails the check: the point cannot be checked there, and the
      message says so; check at a point where ``f`` is finite around ``x``, or with a smaller
      ``eps``.  A NaN or infinite analytic value against a finite numeric one fails too.

    Each element of the step is ``eps`` (or ``1024`` ulps of that element of ``x``, where that is
    larger, so that the two points differ at any magnitude; ``0`` for an infinite element,
    whose analytic gradient must then be ``0``); the difference quotient divides by
    the realised step, so the rounding of ``x +- d`` costs no accuracy.  The step is absolute,
    not scaled with ``|x|``: a softmax or logsumexp curves on a scale of one whatever the size
    of its input, and a step scaled with ``|x|`` would add a truncation error of its own.

    The analytic pass records the graph whatever the caller's grad mode (it runs inside
    :class:`~npsoftmax.no_grad` too) and restores the mode afterwards.

    Parameters
    ----------
    f : callable
        Takes one Tensor per input and returns a floating-point Tensor.
    *inputs : array_like or Tensor
        Floating-point values at which to check (converted to float64 copies).
    eps : float, default 1e-6
        The finite-difference step (absolute; see above for large ``|x|``).
    rtol, atol : float, default 1e-5 and 1e-7
        Relative and absolute tolerance.
    n_directions : int, default 3
        Random directions per input for the directional check.
    full_jacobian_max : int, default 64
        The largest total input size for which the full Jacobian is checked.
    seed : int, default 0
        Seed of the random cotangent and directions.

    Returns
    -------
    None
        On success.

    Raises
    ------
    AssertionError
        If a check fails; the message names the input, the worst direction or Jacobian entry,
        the analytic and numeric values and the tolerance (or, for a numeric derivative that is
        not finite, that the point cannot be checked).
    TypeError
        If an input is not floating point, or ``f`` does not return a floating-point Tensor.
    ValueError
        If ``eps`` is not positive.

    Examples
    --------
    >>> import numpy as np
    >>> import npsoftmax as nps
    >>> from npsoftmax.testing import check_grads
    >>> check_grads(lambda x, w: nps.tanh(x @ w).sum(axis=0), np.ones((2, 3)), np.eye(3))

    Large magnitudes are checked as well, within the precision the output allows:

    >>> check_grads(nps.logsumexp, np.array([1e5, 1e5 + 0.5, 1e5 - 1.0]))
    """
    if eps <= 0:
        raise ValueError(f"check_grads: eps must be positive, got {eps}.")
    arrays = [_float64_copy(x, i) for i, x in enumerate(inputs)]
    rng = np.random.default_rng(seed)

    with _enable_grad():  # a checker: the analytic pass must record whatever the caller's mode
        leaves = [Tensor(a.copy(), requires_grad=True) for a in arrays]
        y = _output(f(*leaves))
        # NaN outputs have no derivative: they are left out (cotangent 0, see the docstring).
        left_out = np.isnan(y.data)
        u = np.where(left_out, 0.0, rng.standard_normal(y.shape))
        nan_as_zero = bool(left_out.any())
        vjp = _vjp(leaves, y, u, nan_as_zero)

    def perturbed(i: int, delta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """f at x_i + delta and at x_i - delta (no graph), and the realised step between them."""
        values, points = [], []
        for sign in (1.0, -1.0):
            args = [Tensor(a) for a in arrays]
            points.append(arrays[i] + sign * delta)
            args[i] = Tensor(points[-1])
            with no_grad():
                values.append(_output(f(*args)).data.astype(np.float64))
        # An infinite element is not moved (its step is 0), and inf - inf must not make a NaN.
        with np.errstate(invalid="ignore"):
            realised = np.where(delta == 0, 0.0, points[0] - points[1])
        return values[0], values[1], realised

    for i, x in enumerate(arrays):
        if x.size == 0:
            continue
        h = _step(x, eps)
        numeric, analytic, rounding = (np.empty(n_directions) for _ in range(3))
        for d in range(n_directions):
            v = rng.standard_normal(x.shape)
            plus, minus, r = perturbed(i, h * v / np.linalg.norm(v))
            # Both sides along the realised direction r / |r| (about v, scaled by the step).
            length = np.linalg.norm(r)
            if length == 0:  # every element infinite: no finite difference to take
                numeric[d] = analytic[d] = rounding[d] = 0.0
                continue
            with np.errstate(invalid="ignore"):  # inf - inf where f overflowed: NaN, reported
                numeric[d] = np.sum(u * _difference(plus, minus, left_out)) / length
            analytic[d] = np.sum(vjp[i] * r) / length
            rounding[d] = _rounding(np.abs(u).reshape(1, -1), plus, minus, length)[0]
        _compare(
            analytic,
            numeric,
            rtol,
            atol,
            rounding,
            lambda d, i=i, x=x: (
                f"input {i} (shape {x.shape}): directional derivative along random "
                f"direction {d[0]} (seed {seed}, cotangent u random)"
            ),
        )

    if sum(a.size for a in arrays) > full_jacobian_max:
        return
    # The cotangents whose VJPs are compared: every output basis vector (then the rows are the
    # full Jacobian's) when the output is small, else the random u already used (one row).
    full = y.size <= full_jacobian_max
    cotangents = np.eye(y.size) if full else u.reshape(1, -1)
    with _enable_grad():
        rows = (
            [_vjp(leaves, y, c.reshape(y.shape), nan_as_zero) for c in cotangents]
            if full
            else [vjp]
        )
    # The Jacobian rows of left-out (NaN) outputs are not compared.
    skipped = left_out.reshape(-1) if full else np.zeros(1, dtype=bool)
    for i, x in enumerate(arrays):
        if x.size == 0 or y.size == 0:
            continue
        h = _step(x, eps).reshape(-1)
        analytic = np.stack([r[i].reshape(-1) for r in rows])
        analytic[skipped] = 0.0
        numeric, rounding = np.empty_like(analytic), np.empty_like(analytic)
        for j in range(x.size):  # column j: perturb element j of x_i alone
            step = np.zeros(x.size)
            step[j] = h[j]
            plus, minus, r = perturbed(i, step.reshape(x.shape))
            length = r.reshape(-1)[j]
            if length == 0:  # an infinite element: its analytic gradient must be 0
                numeric[:, j] = rounding[:, j] = 0.0
                continue
            with np.errstate(invalid="ignore"):  # inf * 0 where f overflowed: NaN, reported
                numeric[:, j] = cotangents @ (
                    _difference(plus, minus, left_out).reshape(-1) / length
                )
            numeric[skipped, j] = 0.0
            rounding[:, j] = _rounding(np.abs(cotangents), plus, minus, length)
        _compare(
            analytic,
            numeric,
            rtol,
            atol,
            rounding,
            lambda k, i=i, x=x: (
                f"input {i} (shape {x.shape}): Jacobian entry "
                f"d {_entry('y', k[0], y.shape) if full else '<u, y>'} / d "
                f"{_entry('x', k[1], x.shape)}"
            ),
        )


def _step(x: np.ndarray, eps: float) -> np.ndarray:
    """The per-element step: ``eps``, or ``MIN_STEP_ULPS`` ulps of ``x`` where that is larger.

    An infinite or NaN element gets step 0: no finite step moves it.
    """
    finite = np.isfinite(x)
    ulps = MIN_STEP_ULPS * np.spacing(np.abs(np.where(finite, x, 0.0)))
    return np.where(finite, np.maximum(eps, ulps), 0.0)


def _difference(plus: np.ndarray, minus: np.ndarray, left_out: np.ndarray) -> np.ndarray:
    """``plus - minus``, 0 where the output is left out (NaN at ``x``) or equal at both points
    (so that a constant infinity gives 0, not ``inf - inf = NaN``)."""
    with np.errstate(invalid="ignore"):
        return np.where(left_out | (plus == minus), 0.0, plus - minus)


def _rounding(
    abs_cotangents: np.ndarray, plus: np.ndarray, minus: np.ndarray, length: float
) -> np.ndarray:
    """The rounding allowance of ``c @ (plus - minus) / length`` for each cotangent row ``c``.

    Each value of ``f`` may be off by ``ROUNDING_ULPS`` float64 rounding errors of its size, and
    the difference quotient divides that by the realised step.  Non-finite values give no
    allowance (a non-finite numeric derivative fails whatever the tolerance), and neither does
    an output equal at both points: it is taken as constant there, so that a large constant (a
    -1e9 mask fill) cannot hide a wrong gradient of the other outputs behind its size.
    """
    moved = (plus != minus) & np.isfinite(plus) & np.isfinite(minus)
    size = np.where(moved, np.abs(plus) + np.abs(minus), 0.0).reshape(-1)
    with np.errstate(invalid="ignore", over="ignore"):
        allowance = ROUNDING_ULPS * np.finfo(np.float64).eps * (abs_cotangents @ size) / length
    return np.where(np.isfinite(allowance), allowance, 0.0)


def _float64_copy(x: Any, i: int) -> np.ndarray:
    data = x.data if isinstance(x, Tensor) else np.asarray(x)
    if data.dtype.kind != "f":
        raise TypeError(
            f"check_grads: input {i} must be floating point (it is differentiated), got an "
            f"array of dtype {data.dtype}."
        )
    return np.array(data, dtype=np.float64)


def _output(y: Any) -> Tensor:
    if not isinstance(y, Tensor) or y.dtype.kind != "f":
        what = f"a Tensor of dtype {y.dtype}" if isinstance(y, Tensor) else type(y).__name__
        raise TypeError(f"check_grads: f must return a floating-point Tensor, got {what}.")
    return y


def _vjp(leaves: list[Tensor], y: Tensor, u: np.ndarray, nan_as_zero: bool) -> list[np.ndarray]:
    """``u^T J_i`` for every input, by one backward pass (the graph is kept for the next).

    ``nan_as_zero`` (the output has left-out NaN entries, whose cotangent is 0): a NaN in the
    VJP is the ``0 * NaN`` of their partials and is read as 0, which the numeric side checks.
    """
    for t in leaves:
        t.grad = None
    if y.requires_grad:  # else y does not depend on the inputs: every VJP is 0
        y.backward(u)
    vjps = [np.zeros(t.shape) if t.grad is None else t.grad.astype(np.float64) for t in leaves]
    return [np.where(np.isnan(v), 0.0, v) for v in vjps] if nan_as_zero else vjps


def _entry(name: str, flat: int, shape: tuple[int, ...]) -> str:
    """``name[i, j]`` for the element at C-order position ``flat`` of an array of ``shape``."""
    if not shape:
        return name
    return f"{name}[{', '.join(str(int(n)) for n in np.unravel_index(flat, shape))}]"


def _compare(
    analytic: np.ndarray,
    numeric: np.ndarray,
    rtol: float,
    atol: float,
    rounding: np.ndarray,
    where: Callable[[tuple[int, ...]], str],
) -> None:
    """Raise AssertionError naming the worst entry if any ``analytic`` misses ``numeric``.

    A numeric value that is not finite fails whatever ``analytic`` is (an infinite tolerance, or
    ``inf == inf``, would let any gradient pass): it is reported first, as a point that cannot
    be checked.
    """
    finite = np.isfinite(numeric)
    with np.errstate(invalid="ignore"):
        tol = atol + rtol * np.abs(numeric) + rounding
        err = np.abs(analytic - numeric)
    ok = finite & (err <= tol)
    if ok.all():
        return
    with np.errstate(divide="ignore", invalid="ignore"):
        badness = np.where(ok, -np.inf, np.nan_to_num(err / tol, nan=np.inf, posinf=np.inf))
    badness = np.where(finite, badness, np.inf)
    k = np.unravel_index(np.argmax(badness), badness.shape)
    if not finite[k]:
        raise AssertionError(
            f"check_grads: cannot check the gradient for {where(tuple(int(n) for n in k))}: the "
            f"numeric derivative is {numeric[k]} (f is not finite within the step around x: it "
            f"overflows or turns NaN there), analytic {analytic[k]:.10g}; check at a point "
            f"where f is finite around x, or with a smaller eps; "
            f"{int((~ok).sum())} of {ok.size} entries fail."
        )
    raise AssertionError(
        f"check_grads: wrong gradient for {where(tuple(int(n) for n in k))}: analytic "
        f"{analytic[k]:.10g} vs numeric {numeric[k]:.10g}; |difference| {err[k]:.3g} exceeds "
        f"the tolerance {tol[k]:.3g} (atol {atol:g} + rtol {rtol:g} * |numeric| + rounding "
        f"allowance {rounding[k]:.3g}); "
        f"{int((~ok).sum())} of {ok.size} entries fail."
    )
