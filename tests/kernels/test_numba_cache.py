"""numba_cache: the compiled kernels never outlive an edit of a module they inline."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest

from npsoftmax.kernels import numba_cpu, numba_mixture, numba_sparse
from npsoftmax.kernels.numba_cache import drop_stale_cache

KERNELS = Path(numba_cpu.__file__).parent


def _tree(tmp_path: Path, cache_time: float, source_time: float) -> list[Path]:
    """A stand-in package: kern.py inlining rows.py, two cache files of kern, one of another."""
    for name in ("kern", "rows"):
        (tmp_path / f"{name}.py").write_text("")
    os.utime(tmp_path / "rows.py", (source_time, source_time))
    cache = tmp_path / "__pycache__"
    cache.mkdir()
    files = [cache / "kern._f-12.py311.nbi", cache / "kern._f-12.py311.1.nbc"]
    other = cache / "kernel2._g-3.py311.nbi"
    for path in [*files, other]:
        path.write_bytes(b"")
        os.utime(path, (cache_time, cache_time))
    return [*files, other]


def test_a_cache_older_than_an_inlined_module_is_dropped(tmp_path):
    *kern_files, other = _tree(tmp_path, cache_time=1000.0, source_time=2000.0)
    assert drop_stale_cache("kern", ("rows",), tmp_path)
    assert not any(path.exists() for path in kern_files)
    assert other.exists()  # another module's cache is not touched


def test_a_fresh_cache_is_kept(tmp_path):
    files = _tree(tmp_path, cache_time=2000.0, source_time=1000.0)
    assert not drop_stale_cache("kern", ("rows",), tmp_path)
    assert all(path.exists() for path in files)


def test_no_cache_and_missing_files_are_not_errors(tmp_path):
    assert not drop_stale_cache("kern", ("rows",), tmp_path)  # no __pycache__ at all
    _tree(tmp_path, cache_time=1000.0, source_time=2000.0)
    assert not drop_stale_cache("kern", ("no_such_module",), tmp_path)


def _sibling_imports(name: str) -> set[str]:
    """The ``numba_*`` modules that ``name`` imports from its own package (``from .x import``)."""
    tree = ast.parse((KERNELS / f"{name}.py").read_text())
    return {
        node.module
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module
        if node.module.startswith("numba_")
    }


@pytest.mark.parametrize(
    "kernels", [numba_cpu, numba_mixture, numba_sparse], ids=lambda m: m.__name__
)
def test_a_kernel_module_lists_every_module_it_inlines(kernels):
    # Every numba_* module reached through its imports, but the two that hold no compiled
    # code (the thread pool's set-up and this cache check).
    name = kernels.__name__.rsplit(".", 1)[-1]
    seen, todo = set(), [name]
    while todo:
        for module in _sibling_imports(todo.pop()) - seen:
            seen.add(module)
            todo.append(module)
    assert seen - {"numba_threads", "numba_cache", name} == set(kernels.INLINED)
