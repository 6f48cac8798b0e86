"""``python -m npsoftmax``: a short tour of the library, checked live against SciPy.

It prints each function of the core family on one example row next to SciPy's answer, shows the
numerical policy on the rows where naive formulas fail, and differentiates through the family
with the autograd, checking the gradients by finite differences.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import scipy.special as sp

import npsoftmax as nps


def _fmt(a: np.ndarray) -> str:
    return np.array2string(np.asarray(a), precision=4, suppress_small=False, separator=" ")


def _section(title: str) -> None:
    print(f"\n{title}\n{'-' * len(title)}")


def tour(dtype: type = np.float64) -> int:
    """Print the tour; return the number of checks that failed (0 when all agree)."""
    failures = 0
    x = np.array([-2.0, 0.0, 0.5, 3.0], dtype=dtype)
    print(f"npsoftmax {nps.__version__} - backend {nps.get_backend()!r}, dtype {np.dtype(dtype)}")
    print(f"x = {_fmt(x)}")

    _section("The family on one row, next to SciPy")
    cases = [
        ("softmax(x)", nps.softmax(x), sp.softmax(x, axis=-1)),
        ("log_softmax(x)", nps.log_softmax(x), sp.log_softmax(x, axis=-1)),
        ("logsumexp(x)", nps.logsumexp(x), sp.logsumexp(x, axis=-1)),
        ("softmin(x)", nps.softmin(x), sp.softmax(-x, axis=-1)),
        ("temp_softmax(x, 2.0)", nps.temp_softmax(x, 2.0), sp.softmax(x / 2.0, axis=-1)),
        ("logit_scaled_softmax(x, 3.0)", nps.logit_scaled_softmax(x, 3.0), sp.softmax(3 * x)),
        ("norm_exp_softmax(x, 3.0)", nps.norm_exp_softmax(x, 3.0), sp.softmax(3 * x)),
    ]
    tol = 8 * np.finfo(dtype).eps
    print(f"{'function':<30} {'npsoftmax':<42} {'max |diff| vs SciPy':>10}")
    for name, ours, ref in cases:
        diff = float(np.max(np.abs(np.asarray(ours, dtype=np.float64) - ref)))
        ok = diff <= tol * max(1.0, float(np.max(np.abs(ref))))
        failures += not ok
        print(f"{name:<30} {_fmt(ours):<42} {diff:10.1e} {'ok' if ok else 'MISMATCH'}")

    _section("The numerical policy, where naive formulas fail")
    edge = [
        ("softmax([1000, 0])", nps.softmax(np.array([1000.0, 0.0])), "[1 0]; naive exp overflows"),
        ("log_softmax([1e308, 1e308])", nps.log_softmax(np.array([1e308, 1e308])), "-log 2 each"),
        ("softmax([1, -inf])", nps.softmax(np.array([1.0, -np.inf])), "-inf is a mask"),
        ("softmax([-inf, -inf])", nps.softmax(np.array([-np.inf, -np.inf])), "NaN, as SciPy"),
        ("logsumexp([-inf, -inf])", nps.logsumexp(np.array([-np.inf, -np.inf])), "-inf"),
        ("norm_exp_softmax([1000, 0])", nps.norm_exp_softmax(np.array([1000.0, 0.0])), "zeta: NaN"),
    ]
    for name, value, note in edge:
        print(f"{name:<30} {_fmt(value):<24} {note}")

    _section("Autograd: a learnable temperature, checked by finite differences")
    logits = nps.tensor(x.astype(np.float64), requires_grad=True)
    t = nps.tensor(1.5, requires_grad=True)
    loss = -nps.log_softmax(nps.temp_softmax(logits, t) * 4.0)[3]
    loss.backward()
    print(f"loss = {loss.item():.6f}")
    print(f"d loss / d x = {_fmt(logits.grad)}")
    print(f"d loss / d T = {float(t.grad):.6f}")
    try:
        nps.testing.check_grads(
            lambda z, s: -nps.log_softmax(nps.temp_softmax(z, s) * 4.0)[3],
            x.astype(np.float64),
            np.array(1.5),
        )
        print("check_grads: analytic gradients agree with central differences")
    except AssertionError as err:  # pragma: no cover - shown to the user, counted as failure
        failures += 1
        print(f"check_grads FAILED: {err}")
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m npsoftmax",
        description="A tour of npsoftmax: the softmax family next to SciPy, its numerical "
        "policy, and its autograd. Exits with status 1 if any live check fails.",
    )
    parser.add_argument(
        "--dtype", choices=["float32", "float64"], default="float64", help="dtype of the example"
    )
    parser.add_argument(
        "--backend", choices=["numba", "numpy"], default=None, help="kernel backend to use"
    )
    args = parser.parse_args(argv)
    start = time.perf_counter()
    if args.backend:
        nps.set_backend(args.backend)
    failures = tour(np.dtype(args.dtype).type)
    print(
        f"\n{'all checks passed' if not failures else f'{failures} check(s) failed'} "
        f"in {time.perf_counter() - start:.1f} s"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
