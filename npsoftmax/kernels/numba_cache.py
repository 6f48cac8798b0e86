"""Keep Numba's on-disk cache of the kernels honest when the modules they inline change.

Numba's cache (``cache=True``) checks only the source of the file that defines a cached
function: ``numba_cpu``'s kernels inline the row functions of ``numba_rows``, the exponential of
``numba_exp`` and the reductions of ``numba_reduce``, so an edit to one of those would leave the
old compiled kernels in use, silently (a test meant to catch a wrong edit still passed,
measured).  :func:`drop_stale_cache` removes a module's cache files when a module it inlines is
newer than them; they are rebuilt at the next call.  It runs at the import of ``numba_cpu``,
before any kernel is called, and costs a few ``stat`` calls.

It looks after the cache next to the sources (``__pycache__``, the default for a source tree or
an editable install).  An installed package whose files do not change needs nothing, and a cache
kept elsewhere (``NUMBA_CACHE_DIR``) is left alone.
"""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent


def drop_stale_cache(module: str, inlined: tuple[str, ...], directory: Path = _HERE) -> bool:
    """Delete ``module``'s Numba cache files if a module it inlines is newer; True if it did.

    ``module`` and ``inlined`` are module names in ``directory`` (``"numba_cpu"``,
    ``("numba_exp", ...)``); the cache files are ``directory/__pycache__/<module>.*.nbi`` (the
    indexes, rewritten whenever a kernel is added) and ``.nbc`` (the compiled code).
    """
    cache = directory / "__pycache__"
    try:
        saved = min(path.stat().st_mtime for path in cache.glob(f"{module}.*.nbi"))
        edited = max((directory / f"{name}.py").stat().st_mtime for name in inlined)
    except (OSError, ValueError):  # no cache yet (min of nothing), or a file cannot be read
        return False
    if edited <= saved:
        return False
    for path in cache.glob(f"{module}.*.nb[ci]"):
        path.unlink(missing_ok=True)
    return True
