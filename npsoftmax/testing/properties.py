"""Property checks for YOUR softmax, log-softmax, logsumexp or sparsemax, with npsoftmax as oracle.

Each check draws inputs with Hypothesis (:mod:`npsoftmax.testing.strategies`), looks for an input
on which a property fails, shrinks it to the smallest one, and raises an ``AssertionError`` that
names every failing property with its smallest failing input (or returns ``None``).  Runs are
derandomized: the same function gives the same verdict every time.

Tolerances, in units of ``eps = finfo(dtype).eps`` times ``ulps`` (default 4).  ``eps * |r|`` is
between one and two units in the last place of ``r``, so "4 eps relative" allows 4 to 8 ulps:

* probabilities ``y`` agree with the reference ``r`` when
  ``|y - r| <= ulps * eps * max(|r|, max_row |r| / e)``: relative, with an absolute floor for
  the entries far below the row's largest (rounding ``x_i - max(x)`` moves ``r_i`` by up to
  ``eps * max_row r / (2e)``, a relative error larger than ``eps`` for tiny ``r_i``), after
  ``y`` is divided by its exact row sum: the order of a long row's sum scales the whole row by
  a common factor, which "sums to one" bounds; a ``-inf`` logit must give exactly 0;
* log-probabilities and logsumexp agree when ``|l - r| <= ulps * eps * (|r| + 1)``, and
  exactly where ``r`` is infinite (a ``-inf`` logit must give exactly ``-inf``);
* sparsemax agrees when ``|y - r| <= ulps * eps * n * (max_row |x| + 1)`` (its threshold is a
  cumulative sum of ``n`` logits) and sums to one within that same tolerance; softmax sums to
  one within ``ulps * eps * n``;
* shift equivariance of logsumexp, ``fn(x + c) = fn(x) + c``, holds within
  ``ulps * eps * (|fn(x)| + |c| + |fn(x + c)| + 1)`` (each side rounds at its own magnitude).

``fn`` must return an array of its input's dtype, and the same output each time it is called
on the same input; it gets a copy of each input, so it may work in place.  Rows have up to 8
entries, plus one or two long rows of up to 300 (biased to ``2**k`` and ``2**k +- 1``).

Legend: ``fn`` the function under test; ``x`` logits; ``y`` its output; ``r`` the reference
(npsoftmax's function under the ``"numpy"`` backend, in the same dtype); ``n`` the row length;
``c`` a shift; ``s1 < s2`` scales; ``H`` entropy.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import HealthCheck, Phase, find, settings
from hypothesis.errors import Flaky, NoSuchExample

from . import strategies as S
from ._property_defs import PROPERTIES, Property, show

__all__ = [
    "check_log_softmax_like",
    "check_logsumexp_like",
    "check_softmax_like",
    "check_sparsemax_like",
]

Progress = Callable[[str, int, int], None]

#: The most dimensions a drawn input has, so ``axis`` lies in ``[-MAX_DIMS, MAX_DIMS)``.
MAX_DIMS = 8


class Target:
    """Calls ``fn`` on a NumPy array the way the checks need it; never lets an error escape.

    ``fn(x, axis=axis)`` when ``fn`` has a parameter named ``axis``, else ``fn(x)`` with the axis
    moved last (and the result moved back).  Returns ``(y, None)`` with ``y`` as float64, or
    ``(None, problem)`` when ``fn`` raised, returned no array of real numbers, or the wrong shape
    or dtype (it must return its input's dtype).  ``fn`` gets a copy of ``x``.
    """

    def __init__(self, fn: Callable[..., Any], axis: int, reduces: bool) -> None:
        self.fn, self.axis, self.reduces = fn, axis, reduces
        try:
            params = inspect.signature(fn).parameters
        except (TypeError, ValueError):  # builtins such as torch.softmax have no signature
            params = {}
        self.takes_axis = "axis" in params

    def __call__(self, x: np.ndarray) -> tuple[np.ndarray | None, str | None]:
        moved = not self.takes_axis  # fn normalises its last axis: hand it x with axis moved
        # A copy, so that an in-place fn neither fails the next call on x nor rewrites the
        # failing input we print; order="K" keeps the layout (strides) fn would have seen.
        xin = np.copy(np.moveaxis(x, self.axis, -1) if moved else x, order="K")
        # The user's function may overflow on purpose-built inputs; we judge its output, so its
        # warnings (RuntimeWarning under pytest's error filter) must not abort the search.
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            try:
                y = self.fn(xin, axis=self.axis) if self.takes_axis else self.fn(xin)
            except Exception as err:  # any failure of user code is a finding, not a crash
                return None, f"fn raised {type(err).__name__}: {err}"
            if y is None:
                return None, "fn returned None, not an array (did it work in place?)"
            try:  # any conversion error (a torch tensor that requires grad, ...) is a finding
                a = np.asarray(y)
            except Exception as err:
                return None, f"np.asarray cannot convert fn's {type(y).__name__}: {err}"
        if a.dtype.kind not in "fiub":  # complex would lose its imaginary part, silently
            what = f"a {type(y).__name__} ({a.dtype})"
            return None, f"fn returned {what}, not an array of real numbers"
        axis = -1 if moved else self.axis
        expected = tuple(int(n) for n in np.delete(xin.shape, axis)) if self.reduces else xin.shape
        if a.shape != expected:
            return None, f"fn returned shape {a.shape}, expected {expected}"
        if a.dtype != x.dtype:  # the checks are for kernels that claim a dtype
            return None, f"fn returned {a.dtype} for {x.dtype} input; expected {x.dtype}"
        y = a.astype(np.float64)
        return (np.moveaxis(y, -1, self.axis) if moved and not self.reduces else y), None


def _settings(max_examples: int) -> settings:
    return settings(
        max_examples=max_examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )


def validate(kind: str, dtype: Any, axis: Any, max_examples: Any, ulps: Any) -> np.dtype:
    if kind not in PROPERTIES:
        raise ValueError(f"kind must be one of {sorted(PROPERTIES)}, got {kind!r}.")
    dt = S._float_dtype(dtype)
    S._min_dims(axis)
    if not -MAX_DIMS <= axis < MAX_DIMS:  # the inputs have at most MAX_DIMS dimensions
        raise ValueError(f"axis must be between {-MAX_DIMS} and {MAX_DIMS - 1}, got {axis}.")
    if isinstance(max_examples, bool) or not isinstance(max_examples, (int, np.integer)):
        raise TypeError(f"max_examples must be an integer, got {max_examples!r}.")
    if max_examples < 1:
        raise ValueError(f"max_examples must be at least 1, got {max_examples}.")
    if isinstance(ulps, bool) or not isinstance(ulps, (int, float, np.number)) or not ulps > 0:
        raise ValueError(f"ulps must be a positive number, got {ulps!r}.")
    return dt


def run_properties(
    fn: Callable[..., Any],
    kind: str,
    *,
    dtype: Any = np.float64,
    axis: int = -1,
    max_examples: int = 100,
    ulps: float = 4,
    progress: Progress | None = None,
) -> list[tuple[str, str | None]]:
    """Run every property of ``kind`` on ``fn``; return ``(name, failure or None)`` pairs.

    The engine behind the ``check_*_like`` functions and ``python -m npsoftmax check``;
    ``progress(name, examples_tried, max_examples)`` is called after each example.
    """
    dt = validate(kind, dtype, axis, max_examples, ulps)
    target = Target(fn, int(axis), reduces=kind == "logsumexp")
    results: list[tuple[str, str | None]] = []
    for prop in PROPERTIES[kind](target, dt, int(axis), float(ulps)):
        results.append((prop.name, _search(prop, max_examples, progress)))
    return results


def _search(prop: Property, max_examples: int, progress: Progress | None) -> str | None:
    tried, failing = 0, []

    def fails(value: Any) -> bool:
        nonlocal tried
        tried += 1
        if progress is not None:
            progress(prop.name, min(tried, max_examples), max_examples)
        with np.errstate(all="ignore"):
            bad = prop.violation(value) is not None
        if bad:
            failing.append(value)
        return bad

    try:
        smallest = find(prop.strategy, fails, settings=_settings(max_examples))
    except NoSuchExample:
        return None
    except Flaky:  # Hypothesis replayed a failing input and it passed: fn is not deterministic
        shown = show(failing[-1], prop.labels) if failing else "(not recorded)"
        return f"{_NONDETERMINISTIC}\n    input: {shown}"
    with np.errstate(all="ignore"):
        why = prop.violation(smallest)
    if why is None:  # failed during the search, passes now
        why = _NONDETERMINISTIC
    return f"{why}\n    smallest failing input: {show(smallest, prop.labels)}"


_NONDETERMINISTIC = "fn is not deterministic on this input: it failed once and passed when rerun"


def _check(fn: Callable[..., Any], kind: str, **kwargs: Any) -> None:
    results = run_properties(fn, kind, **kwargs)
    failed = [(name, why) for name, why in results if why is not None]
    if failed:
        lines = [f"{len(failed)} of {len(results)} {kind} properties failed for {fn!r}:"]
        lines += [f"  [{name}] {why}" for name, why in failed]
        raise AssertionError("\n".join(lines))


_SHARED_DOC = """
    Parameters
    ----------
    fn : callable
        NumPy in, NumPy out.  Called as ``fn(x, axis=axis)`` when it has a parameter named
        ``axis``, else as ``fn(x)`` with the axis moved last.
    dtype : float16, float32 or float64, default float64
        The dtype of the test inputs (and of the reference).
    axis : int, default -1
        The axis ``fn`` normalises over, from ``-8`` to ``7``.
    max_examples : int, default 100
        Inputs tried per property before it counts as holding.
    ulps : float, default 4
        The tolerance in units of ``finfo(dtype).eps``, relative to the reference (see the
        module docstring of :mod:`npsoftmax.testing.properties` for each rule).

    Returns
    -------
    None
        When every property holds.

    Raises
    ------
    AssertionError
        Naming each failing property and its smallest failing input.
    TypeError, ValueError
        If ``dtype``, ``axis``, ``max_examples`` or ``ulps`` is invalid.
"""


def check_softmax_like(fn: Callable[..., Any], *, dtype: Any = np.float64, axis: int = -1,
                       max_examples: int = 100, ulps: float = 4) -> None:  # fmt: skip
    return _check(fn, "softmax", dtype=dtype, axis=axis, max_examples=max_examples, ulps=ulps)


def check_log_softmax_like(fn: Callable[..., Any], *, dtype: Any = np.float64, axis: int = -1,
                           max_examples: int = 100, ulps: float = 4) -> None:  # fmt: skip
    return _check(fn, "log_softmax", dtype=dtype, axis=axis, max_examples=max_examples, ulps=ulps)


def check_logsumexp_like(fn: Callable[..., Any], *, dtype: Any = np.float64, axis: int = -1,
                         max_examples: int = 100, ulps: float = 4) -> None:  # fmt: skip
    return _check(fn, "logsumexp", dtype=dtype, axis=axis, max_examples=max_examples, ulps=ulps)


def check_sparsemax_like(fn: Callable[..., Any], *, dtype: Any = np.float64, axis: int = -1,
                         max_examples: int = 100, ulps: float = 4) -> None:  # fmt: skip
    return _check(fn, "sparsemax", dtype=dtype, axis=axis, max_examples=max_examples, ulps=ulps)


check_softmax_like.__doc__ = (
    """Check that ``fn`` behaves like softmax, with :func:`npsoftmax.softmax` as the reference.

    Properties: output shape, sums to one, non-negative, shift invariance
    (``fn(x + c) == fn(x)``, exact shifts up to ``2**40`` in float64, so a softmax without
    max-subtraction overflows), scale monotonicity (for ``0 <= s1 < s2`` the largest probability
    does not decrease and the entropy does not increase), agreement with the reference within
    ``ulps * eps`` relative on finite logits up to ``finfo.max / 4``, and ``-inf`` entries
    (masks, with moderate or extreme logits) get exactly 0.
"""
    + _SHARED_DOC
    + r"""
    Notes
    -----
    Forward: :math:`y_i = e^{x_i - m} / \sum_j e^{x_j - m}` with :math:`m = \max_j x_j`; its VJP
    :math:`\bar x = y \odot (\bar y - \langle \bar y, y \rangle)` is not checked here (use
    :func:`npsoftmax.testing.check_grads` on Tensors).  Hypothesis is required.

    References
    ----------
    .. [1] J. S. Bridle, "Probabilistic Interpretation of Feedforward Classification Network
       Outputs", Neurocomputing, 1990.
    .. [2] D. R. MacIver et al., "Hypothesis: A new approach to property-based testing", JOSS
       4(43), 2019, doi:10.21105/joss.01891 (no arXiv id).

    Examples
    --------
    >>> import numpy as np
    >>> import npsoftmax as nps
    >>> nps.testing.check_softmax_like(nps.softmax, max_examples=20)
    >>> def naive(x):  # no max-subtraction: exp overflows for large logits
    ...     return np.exp(x) / np.exp(x).sum(axis=-1, keepdims=True)
    >>> nps.testing.check_softmax_like(naive, max_examples=20)
    Traceback (most recent call last):
    AssertionError: ... softmax properties failed ...
    """
)
check_log_softmax_like.__doc__ = (
    """Check that ``fn`` behaves like log-softmax, with :func:`npsoftmax.log_softmax` as reference.

    Properties: output shape, ``exp(fn(x))`` sums to one, ``fn(x) <= 0``, ``x - fn(x)`` constant
    along the axis, shift invariance (exact shifts), agreement with the reference within
    ``ulps * eps * (|r| + 1)`` on extreme finite logits, and ``-inf`` entries give exactly
    ``-inf``.
"""
    + _SHARED_DOC
    + r"""
    Notes
    -----
    Forward: :math:`l_i = x_i - m - \log \sum_j e^{x_j - m}`; VJP
    :math:`\bar x = \bar l - e^{l} \sum_j \bar l_j` (not checked here).

    References
    ----------
    .. [1] J. S. Bridle, "Probabilistic Interpretation of Feedforward Classification Network
       Outputs", Neurocomputing, 1990.

    Examples
    --------
    >>> import npsoftmax as nps
    >>> nps.testing.check_log_softmax_like(nps.log_softmax, max_examples=20)
    """
)
check_logsumexp_like.__doc__ = (
    """Check that ``fn`` behaves like logsumexp, with :func:`npsoftmax.logsumexp` as reference.

    ``fn`` reduces the axis (no ``keepdims``).  Properties: output shape, bounds
    ``max(x) <= fn(x) <= max(x) + log(n)``, shift equivariance ``fn(x + c) = fn(x) + c`` (exact
    shifts), agreement with the reference within ``ulps * eps * (|r| + 1)`` on extreme finite
    logits, and rows with ``-inf`` entries.
"""
    + _SHARED_DOC
    + r"""
    Notes
    -----
    Forward: :math:`\mathrm{lse}(x) = m + \log \sum_j e^{x_j - m}`; VJP
    :math:`\bar x = \bar s\, \mathrm{softmax}(x)` (not checked here).

    References
    ----------
    .. [1] P. Blanchard, D. J. Higham & N. J. Higham, "Accurately computing the log-sum-exp and
       softmax functions", IMA J. Numer. Anal. 41(4), 2021 (no arXiv id).

    Examples
    --------
    >>> import npsoftmax as nps
    >>> nps.testing.check_logsumexp_like(nps.logsumexp, max_examples=20)
    """
)
check_sparsemax_like.__doc__ = (
    """Check that ``fn`` behaves like sparsemax, with :func:`npsoftmax.sparsemax` as reference.

    Properties: output shape, sums to one, non-negative, agreement with the reference.
"""
    + _SHARED_DOC
    + r"""
    Notes
    -----
    Forward: :math:`y = \operatorname{argmin}_{p \in \Delta} \lVert p - x \rVert^2
    = \max(x - \tau, 0)`; VJP on the support :math:`S`:
    :math:`\bar x_S = \bar y_S - \mathrm{mean}_S(\bar y)`, zero elsewhere (not checked here).

    References
    ----------
    .. [1] A. F. T. Martins & R. F. Astudillo, "From Softmax to Sparsemax: A Sparse Model of
       Attention and Multi-Label Classification", ICML 2016, arXiv:1602.02068.

    Examples
    --------
    >>> import npsoftmax as nps
    >>> nps.testing.check_sparsemax_like(nps.sparsemax, max_examples=20)
    """
)
