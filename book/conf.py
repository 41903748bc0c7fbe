"""Sphinx configuration of the course's site (python -m book): MyST-NB renders the notebooks as committed.

One configuration, two builds: `-D language=zh_CN` makes the Chinese edition (book/stage.py stages each
edition in its own folder), whose interface (search box, sidebar, footer, dates) Sphinx's own zh_CN catalog
translates and whose search index splits Chinese words with jieba. The two builds link to each other: the
language switch on every page, and a link in a page to a page only the other edition has.
"""

from __future__ import annotations

import json
import logging
import posixpath
from pathlib import Path

from docutils import nodes
from sphinx import addnodes
from sphinx.search.zh import SearchChinese
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.util import logging as sphinx_logging

from book.stage import EDITIONS, LOCALE_DIR, SEARCH_WORDS, SUFFIXES, docs

project = "Python internet client programming, hands-on"
author = "the course's authors"
copyright = author
language = "en"  # the Chinese edition is built with -D language=zh_CN
extensions = ["myst_nb"]
templates_path = [str(Path(__file__).parent / "_templates")]
html_theme = "alabaster"
html_title = project
html_static_path = []
exclude_patterns = ["_build", "**.ipynb_checkpoints", LOCALE_DIR]
locale_dirs = [LOCALE_DIR]  # the Chinese edition's interface words Sphinx lacks (book/interface.zh_CN.po)
suppress_warnings = []

# Never execute: the site shows the outputs the notebooks were committed with (tests/notebooks keeps
# them current), so a site build needs no servers and takes seconds.
nb_execution_mode = "off"
# Links between chapters are written as JupyterLab writes heading anchors ("Labs-and-grading"): the site
# makes the same anchors, so one link works in JupyterLab and on the site, and a broken one is a warning.
myst_heading_anchors = 3
# (named by import path: Sphinx pickles its configuration)
myst_heading_slug_func = "book.anchors.jupyter_anchor"

#: What differs in the Chinese edition, besides Sphinx's own translation of the interface.
TITLE_ZH = "Python 互联网客户端编程实战"
#: The language switch's words: the other edition, named in its own language.
SWITCH_LABEL = {"en": "English", "zh": "简体中文"}
#: Each edition's anchors, written by its build for the other one to check links into it.
ANCHORS = "{}.anchors.json"

logger = sphinx_logging.getLogger(__name__)


def edition_of(app) -> str:
    return "zh" if app.config.language.lower().startswith("zh") else "en"


def other_of(edition: str) -> str:
    return "en" if edition == "zh" else "zh"


def site_path(edition: str, docname: str) -> str:
    """Where a page of an edition is in the built site (the English edition at the root, the Chinese in zh/)."""
    folder = EDITIONS[edition].folder
    return (folder + "/" if folder else "") + docname + ".html"


def link(edition: str, from_doc: str, other: str, to_doc: str) -> str:
    """A relative URL from a page of one edition to a page of another."""
    return posixpath.relpath(site_path(other, to_doc), posixpath.dirname(site_path(edition, from_doc)) or ".")


def configure_edition(app, config):
    """Set up the edition being built: its title, its search dictionary, the pages of the other edition."""
    edition = edition_of(app)
    staged = Path(app.srcdir).parent
    app.course_edition = edition
    app.course_other_docs = docs(staged / EDITIONS[other_of(edition)].name)
    app.course_anchors_of_other = staged / ANCHORS.format(other_of(edition))
    if edition == "zh":
        config.project = config.html_title = TITLE_ZH
        config.copyright = "本课程作者"
        config.html_search_options = {"dict": str(staged / SEARCH_WORDS)}
        try:
            import jieba
        except ImportError:
            logger.warning("jieba is not installed, so the Chinese edition's search finds no Chinese word: "
                           "install the [book] extra (python3 course.py book does)")
        else:
            jieba.setLogLevel(logging.WARNING)  # not its "Building prefix dict" lines on every build


def counterpart(edition: str, pagename: str) -> str:
    """The same page in the other edition: notebooks/X <-> notebooks/zh/X, README <-> README.zh-CN."""
    parts = pagename.split("/")
    if edition == "en":
        if parts[0] == "notebooks" and len(parts) == 2:
            return "notebooks/zh/" + parts[1]
        return pagename + ".zh-CN" if parts[-1] == "README" else pagename
    if parts[:2] == ["notebooks", "zh"]:
        return "notebooks/" + parts[-1]
    return pagename.removesuffix(".zh-CN")


def language_switch(app, pagename, templatename, context, doctree):
    """Each page links to the same page in the other edition where it exists, else to its start page (the
    search and index pages, which each build makes, to their own)."""
    edition, other = app.course_edition, other_of(app.course_edition)
    target = counterpart(edition, pagename)
    if pagename in app.env.found_docs and target not in app.course_other_docs:
        target = "index"
    context["language_switch"] = (link(edition, pagename, other, target), SWITCH_LABEL[other])


def write_anchors(app, env):
    """This edition's pages and heading anchors, for the other edition's build to check links against."""
    anchors = {}
    for doc in env.found_docs:
        slugs = env.metadata[doc].get("myst_slugs", {})  # slug -> (level, the section's id, its text)
        anchors[doc] = sorted(set(slugs) | {entry[1] for entry in slugs.values()})
    path = Path(app.srcdir).parent / ANCHORS.format(app.course_edition)
    path.write_text(json.dumps(anchors, ensure_ascii=False, indent=0), encoding="utf-8")


class CrossEditionLinks(SphinxPostTransform):
    """A link to a page this edition does not have but the other does becomes a link into the other build.

    A page names it by its repository path, as in JupyterLab (a Chinese chapter's ../../labs/05_mail/README.md,
    its English original ../02_ftp.ipynb), or through the other build's folder in the site (a start page's
    zh/index.md, ../index.md). An anchor is checked against the anchors the other build wrote (the English
    edition is built first); anything else is left to MyST, which warns about it, failing the build.
    """

    default_priority = 8  # before MyST's own resolver (9), which would warn "target not found"

    def run(self, **kwargs):
        app = self.app
        edition, other = app.course_edition, other_of(app.course_edition)
        for node in list(self.document.findall(addnodes.pending_xref)):
            if node.get("reftype") != "myst" or node.get("refdomain"):
                continue
            path, _, anchor = node["reftarget"].partition("#")
            refdoc = node.get("refdoc", self.env.docname)
            target = self.page_of_other_edition(refdoc, path)
            if target is None:
                continue
            if anchor and anchor not in self.anchors_of_other().get(target, ()):
                logger.warning(f"local id not found in the {other} edition's {target!r}: {anchor!r}",
                               location=node, type="myst", subtype="xref_missing")
            uri = link(edition, refdoc, other, target) + ("#" + anchor if anchor else "")
            reference = nodes.reference("", "", *[child.deepcopy() for child in node.children],
                                        refuri=uri, classes=["other-edition"])
            node.replace_self(reference)

    def page_of_other_edition(self, refdoc: str, path: str) -> str | None:
        if not path.endswith(SUFFIXES):
            return None
        docname = posixpath.normpath(posixpath.join(posixpath.dirname(refdoc), path)).rsplit(".", 1)[0]
        if docname in self.env.found_docs:
            return None
        through_folder = "../" if self.app.course_edition == "zh" else EDITIONS["zh"].folder + "/"
        for candidate in (docname, docname.removeprefix(through_folder)):
            if candidate in self.app.course_other_docs:
                return candidate
        return None

    def anchors_of_other(self) -> dict[str, list[str]]:
        path = self.app.course_anchors_of_other
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


class ChineseSearch(SearchChinese):
    """Sphinx's Chinese search, its script naming the stemmer it ships. Chinese search stems Latin words with
    the English stemmer, but Sphinx 9.0 names it after the language (window.Stemmer = ChineseStemmer), so
    the search page stops at "ChineseStemmer is not defined" and finds nothing (sphinx-doc/sphinx#14229,
    fixed by #14416 in a later release; this name is right with the fix too)."""

    language_name = "English"


def setup(app):
    app.add_search_language(ChineseSearch)
    app.connect("config-inited", configure_edition)
    app.connect("html-page-context", language_switch)
    app.connect("env-updated", write_anchors)
    app.add_post_transform(CrossEditionLinks)
