"""Keep the ``Shape`` section of the modules' docstrings, which numpydoc does not know.

The design asks every module (``npsoftmax.nn``) for a numpydoc-style ``Shape`` section, as
PyTorch's documentation has.  numpydoc drops sections outside its fixed list (with a
``UserWarning``), so before numpydoc parses a docstring this extension moves the section's text
to a ``Shape`` rubric at the end of the extended summary, just above the parameters.
"""

from __future__ import annotations

import warnings
from typing import Any

from sphinx.application import Sphinx

TITLE = "Shape"


def _is_heading(lines: list[str], i: int) -> bool:
    """Whether ``lines[i]`` is a numpydoc section title, underlined by the next line."""
    if i + 1 >= len(lines) or not lines[i].strip():
        return False
    underline = lines[i + 1].strip()
    return set(underline) == {"-"} and len(underline) == len(lines[i].strip())


def move_shape_section(
    app: Sphinx, what: str, name: str, obj: Any, options: Any, lines: list[str]
) -> None:
    """Rewrite ``lines`` in place: the ``Shape`` section becomes a rubric above the parameters."""
    headings = [i for i in range(len(lines)) if _is_heading(lines, i)]
    shape = [i for i in headings if lines[i].strip() == TITLE]
    if not shape:
        return
    start = shape[0]
    end = next((i for i in headings if i > start), len(lines))
    body = [*lines[start + 2 : end], ""]
    del lines[start:end]
    first = next((i for i in range(len(lines)) if _is_heading(lines, i)), len(lines))
    lines[first:first] = ["", f".. rubric:: {TITLE}", "", *body]


def setup(app: Sphinx) -> dict[str, bool]:
    app.connect("autodoc-process-docstring", move_shape_section, priority=400)  # numpydoc: 500
    # numpydoc parses each raw docstring a second time, only to look for a signature in it
    # (autodoc-process-signature), and warns there again about the section handled above.
    warnings.filterwarnings("ignore", f"Unknown section {TITLE} in the docstring", UserWarning)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
