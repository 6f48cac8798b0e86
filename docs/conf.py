"""Sphinx configuration of the npsoftmax site: API reference, tutorials, policy pages.

Build (from the repository root, after ``pip install -e ".[docs]"``)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

``-W`` turns every warning into an error: the site builds clean or not at all.
"""

from __future__ import annotations

import sys
from pathlib import Path

import npsoftmax

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))  # the local extensions below

project = "npsoftmax"
author = "the npsoftmax authors"
copyright = "the npsoftmax authors"
release = version = npsoftmax.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_nb",  # MyST Markdown pages and notebooks (it loads myst_parser itself)
    "notebook_link",  # _ext/: tutorial pages show the notebooks of ../tutorials
    "shape_section",  # _ext/: keeps the modules' "Shape" docstring section
]

exclude_patterns = ["_build"]
templates_path = ["_templates"]

# -- API reference -------------------------------------------------------------------------
# One page per public name, generated from the autosummary tables in api/*.rst into
# api/generated/ (git-ignored, rewritten on every build).
autosummary_generate = True
autodoc_default_options = {"member-order": "bysource"}
# Type hints are in the signature and the numpydoc "Parameters" section already.
autodoc_typehints = "none"
autodoc_preserve_defaults = True  # `dtype=np.float64` as written, not "<class 'numpy.float64'>"
# The class template (_templates/autosummary/class.rst) documents the methods itself.
numpydoc_show_class_members = False

# -- Tutorials -----------------------------------------------------------------------------
# The notebooks are shown as committed, outputs and figures included; CI executes them
# separately (pytest --nbmake), so the docs build never runs them.
nb_execution_mode = "off"
nb_custom_formats = {".nblink": "notebook_link.read"}
# The notebooks write math as $...$ and $$...$$, the latter also inside a paragraph, as Jupyter
# allows.
myst_enable_extensions = ["dollarmath"]
myst_dmath_double_inline = True

# -- Math ----------------------------------------------------------------------------------
# Formulas are typeset in the browser by MathJax, which stays on Sphinx's default: version 4 from
# the jsDelivr CDN.  Readers are online, and vendoring megabytes of JavaScript into the
# repository would buy them nothing; the build never fetches it, so an offline build (CI) works
# and warns about nothing.  Only a reader without network sees TeX source instead of formulas.
# To read the site offline, build it against a local MathJax 3 or later (version 2, Debian's
# libjs-mathjax, does not typeset the notebooks' math: myst-nb's settings are for 3 and later):
#     npm install --prefix /tmp/mj mathjax@3
#     python -m sphinx -b html docs /tmp/site \
#         -D mathjax_path=file:///tmp/mj/node_modules/mathjax/es5/tex-mml-chtml.js

# -- HTML ----------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"npsoftmax {release}"
html_theme_options = {
    "show_toc_level": 2,
    # The two pages of wide tables get the whole width: no "on this page" column.
    "secondary_sidebar_items": {"**": ["page-toc"], "coming_from": [], "compat": []},
}
# No "show source": the sources are one-line notebook stubs and autosummary stubs.
html_show_sourcelink = False
html_copy_source = False
# Pages without subpages have no section navigation to show.
html_sidebars = {"policy": [], "coming_from": [], "compat": []}
