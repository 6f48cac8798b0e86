"""The argument rules of :class:`~npsoftmax.nn.AdaptiveLogSoftmaxWithLoss`.

Checked against PyTorch 2.13: the same conditions where PyTorch raises, and a clear error where
it misbehaves (a float or bool cutoff, a ``div_value`` of 0 or below, one whose powers leave the
float range or make a projection of width 0 or wider than memory, an empty batch, an
out-of-range target), each naming the value it got.
"""

from __future__ import annotations

import math
import numbers
import os
from typing import Any

import numpy as np

from ..autograd.tensor import Tensor
from ..functional._targets import first_values

__all__ = ["check_cutoffs", "check_div_value", "check_targets", "projection_widths"]


def check_cutoffs(cutoffs: Any, n_classes: int) -> list[int]:
    """``cutoffs`` as a list of Python ints, checked: unique, sorted, within 1..n_classes-1."""
    try:
        values = list(cutoffs)
    except TypeError:
        raise TypeError(
            f"AdaptiveLogSoftmaxWithLoss: cutoffs must be a sequence of integers (a list, a "
            f"range or a 1-D integer array), got {cutoffs!r}."
        ) from None
    if not values:
        raise ValueError(
            "AdaptiveLogSoftmaxWithLoss: cutoffs should be a sequence of length larger than 0."
        )
    for c in values:
        # Only true integers: PyTorch accepts 5.0 (then crashes in Linear) and True (a cutoff
        # of 1); both are almost certainly mistakes.
        if isinstance(c, (bool, np.bool_)) or not isinstance(c, numbers.Integral):
            raise ValueError(
                f"AdaptiveLogSoftmaxWithLoss: cutoffs must be integers, got {c!r} in "
                f"cutoffs={values!r}."
            )
    values = [int(c) for c in values]
    if values != sorted(set(values)) or values[0] < 1 or values[-1] > n_classes - 1:
        raise ValueError(
            f"AdaptiveLogSoftmaxWithLoss: cutoffs should be a sequence of unique, positive "
            f"integers sorted in an increasing order, where each value is between 1 and "
            f"n_classes-1 = {n_classes - 1}; got cutoffs={values} with n_classes={n_classes}."
        )
    return values


def check_div_value(value: Any) -> float | int:
    """``div_value``, checked: a positive finite real number (bools refused)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"AdaptiveLogSoftmaxWithLoss: div_value must be a real number, got {value!r}."
        )
    # An int is finite however large (np.isfinite refuses one past float64's range).
    finite = isinstance(value, numbers.Integral) or np.isfinite(value)
    if not (finite and value > 0):
        # PyTorch: ZeroDivisionError for 0, a negative-size Linear for < 0 (#114334).
        raise ValueError(
            f"AdaptiveLogSoftmaxWithLoss: div_value must be a positive finite number, got "
            f"{value!r}."
        )
    return value


def _floor_quotient(n: int, div_value: float | int, power: int) -> float | int:
    """``n // div_value**power`` as Python computes it, but ``inf`` where the power underflows
    (or the quotient overflows) and 0 where the power overflows, instead of an exception."""
    if isinstance(div_value, numbers.Integral):
        return n // int(div_value) ** power  # exact for any size
    try:
        d = float(div_value) ** power
    except OverflowError:
        return 0
    return n // d if d > 0 else math.inf


def _memory_bytes() -> int | None:
    """The machine's physical memory in bytes, where the platform says (else None)."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def projection_widths(
    in_features: int, div_value: float | int, sizes: list[int], itemsize: int
) -> list[int]:
    """Each cluster's projection width ``hsz_i = in_features // div_value**(i + 1)``, checked.

    ``sizes`` are the clusters' class counts.  Refused: a width of 0 (PyTorch builds a tail
    that is always uniform), and widths whose weights, ``hsz_i * (in_features + size_i)``
    entries of ``itemsize`` bytes, exceed the machine's memory (a tiny ``div_value``: PyTorch
    fails inside an allocation, or the process runs out of memory).
    """
    widths = []
    for i in range(len(sizes)):
        width = _floor_quotient(in_features, div_value, i + 1)
        if width < 1:
            raise ValueError(
                f"AdaptiveLogSoftmaxWithLoss: cluster {i}'s projection width "
                f"in_features // div_value**{i + 1} = {in_features} // {div_value!r}**"
                f"{i + 1} is 0; at least 1 is needed (a width-0 tail would make the "
                f"cluster always uniform). Use a smaller div_value, more in_features or "
                f"fewer cutoffs."
            )
        widths.append(width)
    need = sum(w * (in_features + size) for w, size in zip(widths, sizes)) * itemsize
    memory = _memory_bytes()
    if memory is not None and need > memory:
        shown = ", ".join(f"{w:.4g}" for w in widths)
        raise ValueError(
            f"AdaptiveLogSoftmaxWithLoss: div_value={div_value!r} makes the clusters' "
            f"projection widths in_features // div_value**(i + 1) = [{shown}], whose weights "
            f"would take {need / 2**30:.4g} GiB, more than this machine's "
            f"{memory / 2**30:.4g} GiB. A div_value below 1 widens the projections past "
            f"in_features; use one of at least 1 (PyTorch's default is 4.0)."
        )
    return [int(w) for w in widths]


def check_targets(target: Any, shape: tuple[int, ...], n_classes: int) -> np.ndarray:
    """``forward``'s targets for an input of ``shape``, checked; returned as ``(N,)`` intp."""
    y = np.asarray(target.data if isinstance(target, Tensor) else target)
    where = "AdaptiveLogSoftmaxWithLoss.forward"
    if y.dtype.kind not in "iu":
        raise TypeError(f"{where}: target must hold integer class indices, got dtype {y.dtype}.")
    if y.ndim > 1:
        raise ValueError(
            f"{where}: target must be 0-d or 1-D (multi-target is not supported), got shape "
            f"{y.shape}."
        )
    if len(shape) != y.ndim + 1:
        raise ValueError(
            f"{where}: a {y.ndim}-D target of shape {y.shape} needs a {y.ndim + 1}-D input, "
            f"got shape {shape}."
        )
    if y.ndim == 1 and shape[0] != y.shape[0]:
        raise ValueError(
            f"{where}: input and target must have the same batch size, got {shape[0]} input "
            f"rows and {y.shape[0]} targets."
        )
    if y.size == 0:
        raise ValueError(
            f"{where}: the batch is empty; the mean loss of no example is undefined (PyTorch "
            f"returns NaN). log_prob and predict accept empty batches."
        )
    bad = (y < 0) | (y >= n_classes)
    if bad.any():
        shown = first_values(y[bad])
        raise IndexError(
            f"{where}: target value(s) {shown} out of range: targets must lie in "
            f"[0, {n_classes - 1}] (n_classes={n_classes})."
        )
    return y.reshape(-1).astype(np.intp)
