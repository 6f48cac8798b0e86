"""``check_grads``: compare reverse-mode gradients with central finite differences in float64.

Legend: ``f`` maps input Tensors ``x_0, x_1, ...`` to one output Tensor ``y``; ``u`` is an
upstream cotangent shaped like ``y``; ``J_i = dy / dx_i`` is the Jacobian of input ``i``; the
analytic VJP ``u^T J_i`` comes from ``y.backward(u)``; the numeric one from
``(y(x + eps v) - y(x - eps v)) / (2 eps)``, whose error is ``O(eps^2)`` from truncation plus
``O(machine eps / eps)`` from rounding (about 1e-10 relative for ``eps = 1e-6``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from npsoftmax.autograd import Tensor, no_grad

__all__ = ["check_grads"]


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

    1. for each input and each of ``n_directions`` random unit directions ``v``, the
       directional derivative of ``<u, f>`` (``u`` a random cotangent) is compared with the
       analytic ``<u^T J_i, v>`` from ``backward``;
    2. when the inputs hold at most ``full_jacobian_max`` elements in all, the Jacobian is built
       numerically column by column (one input element at a time) and compared entry by entry
       with the analytic one, whose rows come from one ``backward`` per output element (when
       the output is that large too, rows are replaced by the one row ``u^T J``).

    An entry passes when ``|analytic - numeric| <= atol + rtol * |numeric|`` (or both are equal,
    infinite alike, or NaN).

    Parameters
    ----------
    f : callable
        Takes one Tensor per input and returns a floating-point Tensor.
    *inputs : array_like or Tensor
        Floating-point values at which to check (converted to float64 copies).
    eps : float, default 1e-6
        The finite-difference step.
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
        the analytic and numeric values and the tolerance.
    TypeError
        If an input is not floating point, or ``f`` does not return a floating-point Tensor.

    Examples
    --------
    >>> import numpy as np
    >>> import npsoftmax as nps
    >>> from npsoftmax.testing import check_grads
    >>> check_grads(lambda x, w: nps.tanh(x @ w).sum(axis=0), np.ones((2, 3)), np.eye(3))
    """
    if eps <= 0:
        raise ValueError(f"check_grads: eps must be positive, got {eps}.")
    arrays = [_float64_copy(x, i) for i, x in enumerate(inputs)]
    rng = np.random.default_rng(seed)

    leaves = [Tensor(a.copy(), requires_grad=True) for a in arrays]
    y = _output(f(*leaves))
    u = rng.standard_normal(y.shape)
    vjp = _vjp(leaves, y, u)

    def perturbed(i: int, delta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """f at x_i + delta and at x_i - delta, the other inputs fixed (no graph)."""
        values = []
        for sign in (1.0, -1.0):
            args = [Tensor(a) for a in arrays]
            args[i] = Tensor(arrays[i] + sign * delta)
            with no_grad():
                values.append(_output(f(*args)).data.astype(np.float64))
        return values[0], values[1]

    for i, x in enumerate(arrays):
        if x.size == 0:
            continue
        numeric, analytic = np.empty(n_directions), np.empty(n_directions)
        for d in range(n_directions):
            v = rng.standard_normal(x.shape)
            v /= np.linalg.norm(v)
            plus, minus = perturbed(i, eps * v)
            numeric[d] = np.sum(u * (plus - minus)) / (2 * eps)
            analytic[d] = np.sum(vjp[i] * v)
        _compare(
            analytic,
            numeric,
            rtol,
            atol,
            lambda d, i=i, x=x: (
                f"input {i} (shape {x.shape}): directional derivative along random unit "
                f"direction {d[0]} (seed {seed}, cotangent u random)"
            ),
        )

    if sum(a.size for a in arrays) > full_jacobian_max:
        return
    # The cotangents whose VJPs are compared: every output basis vector (then the rows are the
    # full Jacobian's) when the output is small, else the random u already used (one row).
    full = y.size <= full_jacobian_max
    cotangents = np.eye(y.size) if full else u.reshape(1, -1)
    rows = [_vjp(leaves, y, c.reshape(y.shape)) for c in cotangents] if full else [vjp]
    for i, x in enumerate(arrays):
        if x.size == 0 or y.size == 0:
            continue
        analytic = np.stack([r[i].reshape(-1) for r in rows])
        numeric = np.empty_like(analytic)
        for j in range(x.size):  # column j: perturb element j of x_i alone
            step = np.zeros(x.size)
            step[j] = eps
            plus, minus = perturbed(i, step.reshape(x.shape))
            numeric[:, j] = cotangents @ ((plus - minus).reshape(-1) / (2 * eps))
        _compare(
            analytic,
            numeric,
            rtol,
            atol,
            lambda k, i=i, x=x: (
                f"input {i} (shape {x.shape}): Jacobian entry "
                f"d {_entry('y', k[0], y.shape) if full else '<u, y>'} / d "
                f"{_entry('x', k[1], x.shape)}"
            ),
        )


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


def _vjp(leaves: list[Tensor], y: Tensor, u: np.ndarray) -> list[np.ndarray]:
    """``u^T J_i`` for every input, by one backward pass (the graph is kept for the next)."""
    for t in leaves:
        t.grad = None
    if y.requires_grad:  # else y does not depend on the inputs: every VJP is 0
        y.backward(u)
    return [np.zeros(t.shape) if t.grad is None else t.grad.astype(np.float64) for t in leaves]


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
    where: Callable[[tuple[int, ...]], str],
) -> None:
    """Raise AssertionError naming the worst entry if any ``analytic`` misses ``numeric``."""
    tol = atol + rtol * np.abs(numeric)
    err = np.abs(analytic - numeric)
    ok = (err <= tol) | (analytic == numeric) | (np.isnan(analytic) & np.isnan(numeric))
    if ok.all():
        return
    with np.errstate(divide="ignore", invalid="ignore"):
        badness = np.where(ok, -np.inf, np.nan_to_num(err / tol, nan=np.inf, posinf=np.inf))
    k = np.unravel_index(np.argmax(badness), badness.shape)
    raise AssertionError(
        f"check_grads: wrong gradient for {where(tuple(int(n) for n in k))}: analytic "
        f"{analytic[k]:.10g} vs numeric {numeric[k]:.10g}; |difference| {err[k]:.3g} exceeds "
        f"the tolerance {tol[k]:.3g} (atol {atol:g} + rtol {rtol:g} * |numeric|); "
        f"{int((~ok).sum())} of {ok.size} entries fail."
    )
