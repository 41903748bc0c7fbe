"""Sphinx configuration of the course's site (python -m book): MyST-NB renders the notebooks as committed."""

from pathlib import Path

project = "Python internet client programming, hands-on"
author = "the course's authors"
extensions = ["myst_nb"]
templates_path = [str(Path(__file__).parent / "_templates")]
html_theme = "alabaster"
html_title = project
html_static_path = []
exclude_patterns = ["_build", "**.ipynb_checkpoints"]
suppress_warnings = []

# Never execute: the site shows the outputs the notebooks were committed with (tests/notebooks keeps
# them current), so a site build needs no servers and takes seconds.
nb_execution_mode = "off"
# Links between chapters are written as JupyterLab writes heading anchors ("Labs-and-grading"): the site
# makes the same anchors, so one link works in JupyterLab and on the site, and a broken one is a warning.
myst_heading_anchors = 3
# (named by import path: Sphinx pickles its configuration)
myst_heading_slug_func = "book.anchors.jupyter_anchor"


def language_switch(app, pagename, templatename, context, doctree):
    """Each page links to the same page in the other edition where it exists, else to its start page."""
    pages = set(app.env.found_docs)
    if pagename.startswith("notebooks/zh/"):
        other, label = "notebooks/" + pagename.split("/")[-1], "English"
    elif pagename.startswith("notebooks/") and "notebooks/zh/" + pagename.split("/")[-1] in pages:
        other, label = "notebooks/zh/" + pagename.split("/")[-1], "简体中文"
    elif pagename == "index_zh":
        other, label = "index", "English"
    else:
        other, label = "index_zh", "简体中文"
    if other not in pages:
        other = "index" if label == "English" else "index_zh"
    context["language_switch"] = (context["pathto"](other), label)


def setup(app):
    app.connect("html-page-context", language_switch)
