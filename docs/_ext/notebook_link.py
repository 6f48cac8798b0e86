"""Show the committed notebooks of ``tutorials/`` in the docs without copying them.

Sphinx reads only files under its source directory (``docs/``), and the notebooks live in
``tutorials/``, where CI executes them.  Each tutorial page is therefore a one-line stub,
``docs/tutorials/<name>.nblink``, holding the notebook's path relative to the repository root;
``conf.py`` registers :func:`read` as myst-nb's reader for that suffix, so myst-nb renders the
notebook itself, outputs and figures included (execution is off).

As a Sphinx extension, this module also makes each stub depend on its notebook, so that an
incremental build picks up an edited notebook, and resolves the notebooks' links to each other
(``[next](02_autograd_in_a_hundred_lines.ipynb)``, which work on GitHub and in Jupyter) to the
tutorial pages.
"""

from __future__ import annotations

import posixpath
from pathlib import Path
from typing import Any

import nbformat
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.transforms.post_transforms import SphinxPostTransform

REPO = Path(__file__).resolve().parents[2]
SUFFIX = ".nblink"


def notebook_path(stub_text: str) -> Path:
    """The notebook a stub names: its one line, a path relative to the repository root."""
    return REPO / stub_text.strip()


def read(stub_text: str) -> nbformat.NotebookNode:
    """myst-nb reader for ``.nblink`` stubs: the notebook they name, as committed."""
    return nbformat.read(notebook_path(stub_text), as_version=4)


def _note_notebook(app: Sphinx, docname: str, source: list[str]) -> None:
    if str(app.env.doc2path(docname)).endswith(SUFFIX):
        app.env.note_dependency(str(notebook_path(source[0])))


class NotebookLinks(SphinxPostTransform):
    """Point a Markdown link to ``X.ipynb`` at the page ``X`` beside the linking page.

    MyST resolves a relative link to a file only when that file is in the source directory; the
    ``.ipynb`` files are not (their stubs are), so without this the link would be left unresolved.
    """

    default_priority = 5  # before MyST's own link resolver (priority 9)

    def run(self, **kwargs: Any) -> None:
        for node in self.document.findall(addnodes.pending_xref):
            path, _, anchor = node.get("reftarget", "").partition("#")
            is_notebook_link = node.get("reftype") == "myst" and path.endswith(".ipynb")
            if not is_notebook_link or node.get("refdomain"):
                continue
            here = posixpath.dirname(node["refdoc"])
            docname = posixpath.normpath(posixpath.join(here, path.removesuffix(".ipynb")))
            if docname in self.env.all_docs:
                node["refdomain"] = "doc"
                node["reftarget"] = docname
                node["reftargetid"] = anchor or None


def setup(app: Sphinx) -> dict[str, bool]:
    app.connect("source-read", _note_notebook)
    app.add_post_transform(NotebookLinks)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
