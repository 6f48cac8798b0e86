"""``python -m npsoftmax check MODULE:FUNCTION``: test your own softmax from the command line.

Imports the function, makes sure it can be called on a small array (a bad target gets one line
on stderr and exit status 2), then runs the property checks of :mod:`npsoftmax.testing.properties`
for the chosen kind with a text progress bar on stderr, and prints one verdict per property on
stdout with the smallest failing input.  Exit status: 0 all pass, 1 some property fails, 2 the
target (or the command line) is unusable.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable
from typing import Any, TextIO

import numpy as np

KINDS = ("softmax", "log_softmax", "logsumexp", "sparsemax")
EXIT_PASS, EXIT_FAIL, EXIT_BAD_TARGET = 0, 1, 2


class BadTarget(Exception):
    """The function to check cannot be imported or called as NumPy in, NumPy out."""


def load_target(spec: str) -> Callable[..., Any]:
    """Import ``"package.module:function"`` (the function may be dotted: ``Class.method``)."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise BadTarget(f"target must look like 'package.module:function', got {spec!r}")
    try:
        obj: Any = importlib.import_module(module_name)
    except Exception as err:  # ImportError, or any error raised while running the module
        raise BadTarget(
            f"cannot import module {module_name!r}: {type(err).__name__}: {err}"
        ) from None
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise BadTarget(f"{spec!r}: {module_name!r} has no attribute {attr!r}") from None
    if not callable(obj):
        raise BadTarget(f"{spec!r} is a {type(obj).__name__}, not a callable")
    return obj


def probe(fn: Callable[..., Any], kind: str, dtype: np.dtype, axis: int) -> None:
    """Call ``fn`` once on a small ordinary array; raise :class:`BadTarget` if that fails."""
    from npsoftmax.testing.properties import Target

    ndim = axis + 1 if axis >= 0 else -axis
    shape = (1,) * (ndim - 1) + (4,)  # ones: a large axis must not build a huge probe
    x = np.linspace(-2.0, 2.0, 4).reshape(shape).astype(dtype)
    x = np.moveaxis(x, -1, axis)  # the 4 entries lie along the axis being checked
    _, problem = Target(fn, axis, reduces=kind == "logsumexp")(x)
    if problem is not None:
        raise BadTarget(f"on x = np.linspace(-2, 2, 4).reshape({x.shape}): {problem}")


class ProgressBar:
    """One line per property on ``stream``: ``name [#####.....] 37/100``, redrawn in place."""

    def __init__(self, stream: TextIO, width: int = 20) -> None:
        self.stream, self.width, self.current, self.line = stream, width, None, ""
        self.live = bool(getattr(stream, "isatty", lambda: False)())  # a log gets final lines

    def __call__(self, name: str, done: int, total: int) -> None:
        if name != self.current:
            self.finish()
            self.current = name
        filled = self.width * done // total
        line = f"  {name:<28} [{'#' * filled}{'.' * (self.width - filled)}] {done:>5}/{total}"
        if line != self.line and self.live:  # shrinking re-calls at total: no redraw then
            self.stream.write(f"\r{line}")
            self.stream.flush()
        self.line = line

    def finish(self) -> None:
        if self.current is not None:
            self.stream.write("\n" if self.live else f"{self.line}\n")
            self.current = None


def run_check(
    args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Run the ``check`` subcommand for parsed ``args``; return the exit status."""
    out, err = out or sys.stdout, err or sys.stderr  # looked up now: tests replace them
    try:
        from npsoftmax.testing.properties import run_properties, validate
    except ImportError:
        print("error: 'check' needs Hypothesis: pip install hypothesis", file=err)
        return EXIT_BAD_TARGET
    dtype = np.dtype(args.dtype)
    if args.max_examples < 1 or not args.ulps > 0:
        print(
            f"error: --max-examples must be >= 1 and --ulps > 0, got {args.max_examples} and "
            f"{args.ulps}",
            file=err,
        )
        return EXIT_BAD_TARGET
    try:
        validate(args.kind, dtype, args.axis, args.max_examples, args.ulps)
    except (TypeError, ValueError) as bad:
        print(f"error: {bad}", file=err)
        return EXIT_BAD_TARGET
    try:
        fn = load_target(args.target)
        probe(fn, args.kind, dtype, args.axis)
    except BadTarget as bad:
        print(f"error: {bad}", file=err)
        return EXIT_BAD_TARGET
    print(f"checking {args.target} as {args.kind} ({dtype.name}, axis={args.axis})", file=out)
    bar = ProgressBar(err)
    results = run_properties(
        fn,
        args.kind,
        dtype=dtype,
        axis=args.axis,
        max_examples=args.max_examples,
        ulps=args.ulps,
        progress=bar,
    )
    bar.finish()
    for name, why in results:
        print(f"{'PASS' if why is None else 'FAIL'}  {name}", file=out)
        if why is not None:
            print("      " + why.replace("\n    ", "\n      "), file=out)
    failed = sum(why is not None for _, why in results)
    print(f"{len(results) - failed} of {len(results)} properties hold", file=out)
    return EXIT_FAIL if failed else EXIT_PASS


def add_check_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``check`` subcommand on an argparse ``subparsers`` object."""
    parser = subparsers.add_parser(
        "check",
        help="test your own softmax-like function against npsoftmax's properties",
        description="Import FUNCTION from MODULE (NumPy array in, NumPy array out) and test it "
        "with npsoftmax's Hypothesis properties for KIND, against npsoftmax's reference "
        "(numpy backend) within ULPS units of the dtype's eps. A failing property is shown "
        "with its smallest failing input. softmax: sums to one, non-negative, shift "
        "invariance, scale monotonicity, agreement, -inf masks. log_softmax: exp sums to one, "
        "non-positive, x - fn(x) constant, shift invariance, agreement, -inf masks. logsumexp: "
        "max <= lse <= max + log n, shift equivariance, agreement, -inf masks. sparsemax: sums "
        "to one, non-negative, agreement. FUNCTION is called as fn(x, axis=AXIS) if it has an "
        "'axis' parameter, else fn(x) with the axis moved last.",
        epilog="Exit status: 0 when every property holds, 1 when some property fails, 2 when "
        "the target cannot be imported or called (one-line error, no traceback).",
    )
    parser.add_argument("target", help="the function, as package.module:function")
    parser.add_argument("--kind", choices=KINDS, default="softmax", help="what fn computes")
    parser.add_argument(
        "--dtype",
        choices=["float16", "float32", "float64"],
        default="float64",
        help="dtype of the test inputs (default float64)",
    )
    parser.add_argument("--axis", type=int, default=-1, help="the axis fn normalises over")
    parser.add_argument(
        "--max-examples", type=int, default=100, help="inputs tried per property (default 100)"
    )
    parser.add_argument(
        "--ulps", type=float, default=4.0, help="tolerance in units of eps (default 4)"
    )
    parser.set_defaults(handler=run_check)
    return parser
