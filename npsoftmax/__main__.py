"""``python -m npsoftmax``: a short tour of the library, checked live; ``... check``: test yours.

The tour prints every variant of the family on one example row next to an independent answer
(SciPy, or a closed form written out here), shows the numerical policy on rows where naive
formulas fail, checks gradients by finite differences, trains a small mixture of softmaxes
against a single softmax on a task no single softmax can fit, and ends with a summary table.
It exits with status 1 if any live check fails.  ``python -m npsoftmax check --help`` describes
the checker of user functions (see :mod:`npsoftmax._check_cli`).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.special as sp

import npsoftmax as nps
from npsoftmax._check_cli import add_check_parser


def _fmt(a: Any) -> str:
    return np.array2string(np.asarray(a), precision=4, suppress_small=False, separator=" ")


def _section(title: str) -> None:
    print(f"\n{title}\n{'-' * len(title)}")


class Tally:
    """Counts the live checks of one section for the summary table."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, int, int, float]] = []
        self._name, self._ok, self._total, self._start = "", 0, 0, 0.0

    def start(self, name: str) -> None:
        self._name, self._ok, self._total, self._start = name, 0, 0, time.perf_counter()

    def check(self, ok: bool) -> str:
        self._ok, self._total = self._ok + bool(ok), self._total + 1
        return "ok" if ok else "FAILED"

    def stop(self) -> None:
        elapsed = time.perf_counter() - self._start
        self.rows.append((self._name, self._ok, self._total, elapsed))

    @property
    def failures(self) -> int:
        return sum(total - ok for _, ok, total, _ in self.rows)


def _sparsemax_closed_form(x: np.ndarray) -> np.ndarray:
    # Martins & Astudillo (2016), Alg. 1: support size k = max{k : 1 + k z_(k) > sum_{j<=k} z_(j)}.
    z = np.sort(x)[::-1]
    k = np.arange(1, x.size + 1)
    support = k[1 + k * z > np.cumsum(z)][-1]
    tau = (np.cumsum(z)[support - 1] - 1) / support
    return np.maximum(x - tau, 0.0)


def family(tally: Tally, x: np.ndarray) -> None:
    """Every variant on one row, each next to an independent answer and its row sum."""
    tally.start("family vs SciPy / closed forms")
    _section("The family on one row, each checked against SciPy or a closed form")
    x64 = x.astype(np.float64)
    top3 = np.where(x64 >= np.sort(x64)[-3], x64, -np.inf)
    mask = np.array([True, False, True, True, True])
    cases: list[tuple[str, Any, Any, bool]] = [  # name, ours, reference, is a distribution
        ("softmax", nps.softmax(x), sp.softmax(x64, axis=-1), True),
        ("log_softmax", nps.log_softmax(x), sp.log_softmax(x64, axis=-1), False),
        ("logsumexp", nps.logsumexp(x), sp.logsumexp(x64, axis=-1), False),
        ("softmin", nps.softmin(x), sp.softmax(-x64, axis=-1), True),
        ("temp_softmax(T=2)", nps.temp_softmax(x, 2.0), sp.softmax(x64 / 2.0), True),
        ("logit_scaled_softmax(3)", nps.logit_scaled_softmax(x, 3.0), sp.softmax(3 * x64), True),
        ("norm_exp_softmax(3)", nps.norm_exp_softmax(x, 3.0), sp.softmax(3 * x64), True),
        ("sparsemax", nps.sparsemax(x), _sparsemax_closed_form(x64), True),
        ("entmax15", nps.entmax15(x), nps.entmax_bisect(x64, 1.5), True),
        ("entmax_bisect(alpha=2)", nps.entmax_bisect(x, 2.0), _sparsemax_closed_form(x64), True),
        ("sparse_softmax(k=3)", nps.sparse_softmax(x, k=3), sp.softmax(top3), True),
        ("gumbel_softmax(tau=.5, rng=0)", nps.gumbel_softmax(x, tau=0.5, rng=0), None, True),
        ("masked_softmax(x, mask)", nps.masked_softmax(x, mask), sp.softmax(np.where(mask, x64, -np.inf)), True),  # noqa: E501
        ("softmax1", nps.softmax1(x), np.exp(x64) / (1 + np.exp(x64).sum()), False),
        ("local_softmax(2 chunks)", nps.local_softmax(x, 2), np.concatenate([sp.softmax(x64[:3]), sp.softmax(x64[3:])]), False),  # noqa: E501
        ("online_softmax", nps.online_softmax(x), sp.softmax(x64), True),
        ("unified_max_softmax(phi=1)", nps.unified_max_softmax(x, phi=1.0)[0], sp.softmax(x64), True),  # noqa: E501
    ]  # fmt: skip
    tol = 16 * np.finfo(x.dtype).eps
    print(f"x = {_fmt(x)}   (tolerance {tol:.1e}; entmax15 is checked against bisection)")
    print(f"{'function':<30} {'value':<46} {'|diff|':>8} {'sum':>6}")
    for name, ours, ref, is_dist in cases:
        ours = np.asarray(ours, dtype=np.float64)
        ok, diff = True, "  -"
        if ref is not None:
            d = float(np.max(np.abs(ours - ref)))
            ok, diff = d <= tol * max(1.0, float(np.max(np.abs(ref)))), f"{d:8.1e}"
        if is_dist:
            ok = ok and abs(float(ours.sum()) - 1.0) <= tol and bool((ours >= 0).all())
        total = f"{float(ours.sum()):6.3f}" if ours.ndim else "     -"
        print(f"{name:<30} {_fmt(ours):<46} {diff:>8} {total} {tally.check(ok)}")
    tally.stop()


def policy(tally: Tally) -> None:
    """The numerical policy on rows where the naive formulas overflow or divide 0 by 0."""
    tally.start("numerical policy")
    _section("The numerical policy, where naive formulas fail")
    with np.errstate(all="ignore"):  # the naive formula overflows on purpose, for contrast
        naive = np.exp([1000.0, 0.0]) / np.exp([1000.0, 0.0]).sum()
    edge = [
        ("softmax([1000, 0])", nps.softmax(np.array([1000.0, 0.0])), [1.0, 0.0], f"naive: {naive}"),
        ("log_softmax([1e308, 1e308])", nps.log_softmax(np.array([1e308, 1e308])),
         [-np.log(2)] * 2, "-log 2 each"),
        ("softmax([1, -inf])", nps.softmax(np.array([1.0, -np.inf])), [1.0, 0.0], "-inf masks"),
        ("softmax([-inf, -inf])", nps.softmax(np.array([-np.inf, -np.inf])), [np.nan] * 2,
         "NaN, as SciPy"),
        ("logsumexp([-inf, -inf])", nps.logsumexp(np.array([-np.inf, -np.inf])), -np.inf, "-inf"),
        ("masked_softmax, all masked", nps.masked_softmax(np.zeros(2), np.zeros(2, bool)),
         [0.0, 0.0], "zeros, by design"),
    ]  # fmt: skip
    for name, value, expected, note in edge:
        ok = np.allclose(value, expected, rtol=1e-15, atol=0, equal_nan=True)
        print(f"{name:<30} {_fmt(value):<24} {note:<24} {tally.check(ok)}")
    tally.stop()


def gradients(tally: Tally, x: np.ndarray) -> None:
    """Analytic VJPs against central finite differences (float64)."""
    tally.start("gradients (check_grads)")
    _section("Autograd: every fused op's VJP against finite differences")
    x64 = x.astype(np.float64)
    ops: list[tuple[str, Callable[..., Any], tuple[Any, ...]]] = [
        ("softmax", nps.softmax, (x64,)),
        ("log_softmax", nps.log_softmax, (x64,)),
        ("logsumexp", nps.logsumexp, (x64,)),
        ("sparsemax", nps.sparsemax, (x64,)),
        ("entmax15", nps.entmax15, (x64,)),
        ("temp_softmax (x and T)", nps.temp_softmax, (x64, np.array(1.5))),
        ("-log_softmax(4 temp_softmax)[3]",
         lambda z, t: -nps.log_softmax(nps.temp_softmax(z, t) * 4.0)[3], (x64, np.array(1.5))),
    ]  # fmt: skip
    for name, f, inputs in ops:
        try:
            nps.testing.check_grads(f, *inputs)
            ok, note = True, ""
        except AssertionError as err:  # shown to the user and counted as a failure
            ok, note = False, str(err).splitlines()[0]
        print(f"{name:<34} {tally.check(ok)} {note}")
    tally.stop()


def _bar(done: int, total: int, width: int = 24) -> str:
    filled = width * done // total
    return "[" + "#" * filled + "." * (width - filled) + "]"


def bottleneck(tally: Tally, steps: int, num_mixtures: int) -> None:
    """Fit a high-rank conditional distribution with one softmax and with a MoS (rank limits)."""
    tally.start("softmax bottleneck (MoS)")
    _section(f"Breaking the softmax bottleneck: softmax vs MoS(K={num_mixtures}), {steps} steps")
    n, d, c = 48, 4, 32  # contexts, input size, classes: one softmax has rank <= d + 1 = 5
    gen = np.random.default_rng(0)
    inputs = gen.standard_normal((n, d))
    target = sp.softmax(3.0 * gen.standard_normal((n, c)), axis=-1)  # full rank log-probs
    entropy = float(-(target * np.log(target)).sum() / n)

    softmax_model = nps.nn.Linear(d, c, rng=0)
    mos = nps.nn.MixtureOfSoftmaxes(num_mixtures=num_mixtures, input_size=d, num_classes=c, rng=0)
    models = {
        "softmax": (softmax_model, lambda: nps.log_softmax(softmax_model(inputs))),
        f"MoS(K={num_mixtures})": (mos, lambda: mos.log_prob(inputs)),
    }
    kl, live = {}, sys.stdout.isatty()
    for name, (model, log_prob) in models.items():
        opt = nps.optim.Adam(model.parameters(), lr=0.05)
        for step in range(1, steps + 1):
            opt.zero_grad()
            loss = -nps.sum(log_prob() * target) / n  # cross-entropy to the soft targets
            loss.backward()
            opt.step()
            if step % 25 == 0 or step == steps:
                kl[name] = loss.item() - entropy  # KL(target || model), >= 0
                line = f"{name:<10} {_bar(step, steps)} {step:>4}/{steps} KL {kl[name]:.4f}"
                if live:  # redraw in place on a terminal; a log gets the final line only
                    print(f"\r{line}", end="", flush=True)
        print(f"\r{line}" if live else line)
    ok = kl[f"MoS(K={num_mixtures})"] < kl["softmax"]
    print(f"MoS fits better than one softmax (rank <= {d + 1}): {tally.check(ok)}")
    tally.stop()


def summary(tally: Tally) -> None:
    _section("Summary")
    print(f"{'section':<34} {'checks':>9} {'time':>8}")
    for name, ok, total, elapsed in tally.rows:
        print(f"{name:<34} {ok:>4}/{total:<4} {elapsed:7.2f}s")


def tour(dtype: type = np.float64, steps: int = 300, num_mixtures: int = 4) -> int:
    """Print the tour; return the number of live checks that failed (0 when all hold).

    ``num_mixtures`` must be at least 2 when ``steps > 0``: the last live check is that a
    mixture of that many softmaxes fits better than one softmax.
    """
    if steps > 0 and num_mixtures < 2:
        raise ValueError(
            "tour: num_mixtures must be at least 2 (a mixture to compare with one softmax), "
            f"got {num_mixtures}."
        )
    x = np.array([-1.0, 0.0, 0.5, 1.0, 1.5], dtype=dtype)
    print(f"npsoftmax {nps.__version__} - backend {nps.get_backend()!r}, dtype {np.dtype(dtype)}")
    tally = Tally()
    family(tally, x)
    policy(tally)
    gradients(tally, x)
    if steps > 0:
        bottleneck(tally, steps, num_mixtures)
    summary(tally)
    return tally.failures


def _mixtures(text: str) -> int:
    """``--mixtures``: an integer >= 2, else an argparse error (exit status 2) saying why."""
    try:
        k = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if k < 2:
        raise argparse.ArgumentTypeError(
            f"must be at least 2, got {k}: the tour checks that a mixture of K softmaxes fits "
            "better than one softmax, and K = 1 is one softmax"
        )
    return k


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m npsoftmax",
        description="Without a subcommand: a tour of npsoftmax. Every variant of the softmax "
        "family on one row next to SciPy or a closed form, the numerical policy, gradients "
        "checked by finite differences, and a mixture of softmaxes trained against a single "
        "softmax on a high-rank task; ends with a summary table and exits with status 1 if "
        "any live check fails. With 'check': test your own function (see 'check --help').",
    )
    parser.add_argument(
        "--dtype", choices=["float32", "float64"], default="float64", help="dtype of the example"
    )
    parser.add_argument(
        "--backend", choices=["numba", "numpy"], default=None, help="kernel backend to use"
    )
    parser.add_argument(
        "--steps", type=int, default=300, help="training steps per model (0 skips training)"
    )
    parser.add_argument(
        "--mixtures",
        type=_mixtures,
        default=4,
        metavar="K",
        help="K, the MoS's components, at least 2: the live check is that the mixture fits "
        "better than one softmax, which K = 1 would be (default 4)",
    )
    add_check_parser(parser.add_subparsers(dest="command", metavar="{check}"))
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m npsoftmax``; returns the exit status."""
    args = build_parser().parse_args(argv)
    if args.backend:
        nps.set_backend(args.backend)
    if args.command == "check":
        return args.handler(args)
    if args.steps < 0:
        print("error: --steps must be >= 0", file=sys.stderr)
        return 2
    start = time.perf_counter()
    failures = tour(np.dtype(args.dtype).type, args.steps, args.mixtures)
    verdict = "all checks passed" if not failures else f"{failures} check(s) failed"
    print(f"\n{verdict} in {time.perf_counter() - start:.1f} s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
