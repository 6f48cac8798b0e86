"""Every public name carries a numpydoc docstring with an example that runs.

The examples themselves run as doctests (``--doctest-modules`` in pyproject.toml); this test
makes sure none is missing: a public function or class without a summary line, without an
``Examples`` section holding a ``>>>`` line, or (for functions) without a ``Parameters`` or
``Returns`` section fails here, by name.
"""

from __future__ import annotations

import inspect

import pytest

import npsoftmax
import npsoftmax.autograd
import npsoftmax.functional
import npsoftmax.nn
import npsoftmax.optim
import npsoftmax.testing

MODULES = [
    npsoftmax,
    npsoftmax.functional,
    npsoftmax.autograd,
    npsoftmax.nn,
    npsoftmax.optim,
    npsoftmax.testing,
]


def _public(module) -> list[tuple[str, object]]:
    names = getattr(module, "__all__", None)
    assert names, f"{module.__name__} has no __all__"
    found = []
    for name in names:
        obj = getattr(module, name)
        if inspect.isfunction(obj) or inspect.isclass(obj):
            found.append((f"{module.__name__}.{name}", obj))
    return found


PUBLIC = sorted({name: obj for m in MODULES for name, obj in _public(m)}.items())


def test_there_are_public_names_to_check():
    assert len(PUBLIC) > 40


@pytest.mark.parametrize(("name", "obj"), PUBLIC, ids=[name for name, _ in PUBLIC])
def test_numpydoc_docstring_with_a_runnable_example(name, obj):
    doc = inspect.getdoc(obj)
    assert doc and doc.splitlines()[0].strip(), f"{name}: no summary line"
    assert "Examples\n--------" in doc, f"{name}: no Examples section"
    examples = doc.split("Examples\n--------", 1)[1]
    assert ">>>" in examples, f"{name}: the Examples section has no >>> line"
    if inspect.isfunction(obj) and inspect.signature(obj).parameters:
        assert "Parameters\n----------" in doc, f"{name}: no Parameters section"
    if inspect.isfunction(obj):
        assert "Returns\n-------" in doc or "Yields\n------" in doc or "Raises\n------" in doc, (
            f"{name}: no Returns section"
        )
