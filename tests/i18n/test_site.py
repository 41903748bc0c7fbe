"""The site (python -m book): two editions, each with its interface in its own language, a language switch
between them on every page, Chinese search, and a build that fails on a broken internal link.

Needs the [book] extra (Sphinx, MyST-NB, jieba): `python3 course.py book` installs it, and .ci/run runs that
first. The site is built once for the module (both editions, about 15-20 s); the broken-link tests rebuild
one edition from a copy of its staged pages.
"""

from __future__ import annotations

import functools
import json
import re
import shutil
import threading
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import pytest

from browser_support import NEEDS_CHROMIUM, chromium

pytest.importorskip("sphinx")
pytest.importorskip("myst_nb")

from book.__main__ import sphinx  # noqa: E402
from book.stage import EDITIONS, SEARCH_WORDS, search_words, stage  # noqa: E402

CJK = re.compile(r"[\u4e00-\u9fff]")


class Page(HTMLParser):
    """What the tests read in a built page: its html lang, the search box, the links and the ids."""

    def __init__(self, path: Path):
        super().__init__()
        self.path, self.lang, self.placeholder, self.switch, self.ids = path, None, None, None, set()
        self.links: list[tuple[str, str]] = []  # (class, href)
        self._in_switch = False
        self.feed(path.read_text(encoding="utf-8"))

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag == "html":
            self.lang = attrs.get("lang")
        elif tag == "input" and attrs.get("name") == "q":
            self.placeholder = attrs.get("placeholder")
        elif tag == "p" and attrs.get("class") == "language-switch":
            self._in_switch = True
        elif tag == "a" and "href" in attrs:
            if self._in_switch:
                self.switch, self._in_switch = attrs["href"], False
            self.links.append((attrs.get("class") or "", attrs["href"]))

    def target(self, href: str) -> tuple[Path, str]:
        parts = urlsplit(href)
        return (self.path.parent / unquote(parts.path)).resolve(), parts.fragment


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """Both editions built from the repository's pages: (staged pages, their list per edition, the site)."""
    folder = tmp_path_factory.mktemp("site")
    pages, out = folder / "pages", folder / "site"
    copied = stage(pages)
    done = sphinx(pages, out)
    assert done.returncode == 0, done.stdout + done.stderr
    return pages, copied, out


def html(page: str, edition: str = "") -> str:
    """The built file of a staged page: notebooks/zh/02_ftp.ipynb of the Chinese edition -> zh/notebooks/zh/02_ftp.html."""
    folder = EDITIONS[edition].folder if edition else ""
    return (folder + "/" if folder else "") + page.rsplit(".", 1)[0] + ".html"


def edition_of(out: Path, built: Path) -> str:
    return "zh" if built.resolve().relative_to(out.resolve()).parts[0] == EDITIONS["zh"].folder else "en"


def test_each_edition_has_its_interface_in_its_language(site):
    _, copied, out = site
    zh_chapters = [page for page in copied["zh"] if page.endswith(".ipynb")]
    assert len(zh_chapters) >= 10, zh_chapters
    for page in [*zh_chapters, "index.md", *[p for p in copied["zh"] if p.endswith(".md")]]:
        chinese = Page(out / html(page, "zh"))
        text = chinese.path.read_text(encoding="utf-8")
        assert chinese.lang == "zh-CN" and chinese.placeholder == "搜索", page
        assert "<h3>导航</h3>" in text and "Python 互联网客户端编程实战</title>" in text, page
        for english_word in ("Navigation", "Related Topics", "Documentation overview", "Page source",
                             "Created using", 'placeholder="Search"'):
            assert english_word not in text, (page, english_word)
    english_chapters = [page for page in copied["en"] if page.endswith(".ipynb")]
    for page in [*english_chapters, "index.md"]:
        english = Page(out / html(page, "en"))
        text = english.path.read_text(encoding="utf-8")
        assert english.lang == "en" and english.placeholder == "Search", page
        assert "<h3>Navigation</h3>" in text and "搜索" not in text and "导航" not in text, page
    # the sidebar's captions are the start pages' own
    assert '<span class="caption-text">章节</span>' in (out / "zh/index.html").read_text(encoding="utf-8")
    # the committed outputs are shown (nothing was executed): the servers' table of 00_start_here
    assert "127.0.0.1:10021" in (out / "zh/notebooks/zh/00_start_here.html").read_text(encoding="utf-8")


def test_the_language_switch_goes_to_the_same_page_in_the_other_edition(site):
    _, copied, out = site
    for page in copied["zh"]:
        chinese = Page(out / html(page, "zh"))
        english_page = page.replace("notebooks/zh/", "notebooks/").replace(".zh-CN", "")
        assert chinese.target(chinese.switch)[0] == (out / html(english_page, "en")).resolve(), page
        english = Page(out / html(english_page, "en"))
        assert english.target(english.switch)[0] == chinese.path.resolve(), english_page
    for built in out.glob("**/*.html"):  # every page, the search page and the index too: it resolves
        page = Page(built)
        assert page.switch, built
        assert page.target(page.switch)[0].is_file(), (built, page.switch)
        assert edition_of(out, page.target(page.switch)[0]) != edition_of(out, built), (built, page.switch)
    assert Page(out / "index.html").switch == "zh/index.html"
    assert Page(out / "zh/index.html").switch == "../index.html"


def test_every_link_between_the_editions_resolves_to_a_page_and_anchor(site):
    _, _, out = site
    crossing = 0
    for built in out.glob("**/*.html"):
        page = Page(built)
        for classes, href in page.links:
            if "other-edition" not in classes:
                continue
            crossing += 1
            target, anchor = page.target(href)
            assert target.is_file(), (built, href)
            assert edition_of(out, target) != edition_of(out, built), (built, href)
            assert not anchor or anchor in Page(target).ids, (built, href)
    assert crossing > 20, "the Chinese chapters' links to the English labs and originals were not found"


def test_chinese_search_finds_a_glossary_term(site):
    """The Chinese search index has 套接字 as a word, in the Chinese sockets chapter: jieba alone cuts it into
    套 + 接字, so it is the glossary's dictionary that makes a search for the term find the chapter."""
    pages, copied, out = site
    assert "套接字" in search_words() and "主动模式" in search_words()
    assert "套接字 " in (pages / SEARCH_WORDS).read_text(encoding="utf-8")
    index = json.loads((out / "zh/searchindex.js").read_text(encoding="utf-8")[len("Search.setIndex("):-1])
    sockets = index["docnames"].index("notebooks/zh/01a_sockets")
    found = [doc for kind in ("terms", "titleterms")  # a word of a page's title is only in titleterms
             for doc in as_list(index[kind].get("套接字", []))]
    assert sockets in found, found
    english = json.loads((out / "searchindex.js").read_text(encoding="utf-8")[len("Search.setIndex("):-1])
    assert "notebooks/zh/01a_sockets" not in english["docnames"] and "套接字" not in english["terms"]


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def served(site):
    """The built site over HTTP on 127.0.0.1, as a reader gets it (search fetches each found page for its
    summary, which a browser refuses from file:// addresses)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(site[2])))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    thread.join()
    server.server_close()


@NEEDS_CHROMIUM
@pytest.mark.parametrize("edition, query, first, summary", [
    ("zh", "套接字", "notebooks/zh/01a_sockets.html", "搜索完成"),
    ("en", "socket", "notebooks/01a_sockets.html", "Search finished"),
])
def test_search_in_a_browser_finds_the_chapter(served, edition, query, first, summary):
    """The search page, run by Chromium, lists pages of its own edition only, the chapter on the word among
    them, and says so in the edition's language. (Sphinx 9.0's Chinese search page failed with
    "ChineseStemmer is not defined" and never listed anything: book/conf.py's ChineseSearch.)"""
    folder = EDITIONS[edition].folder
    errors = []
    with chromium() as browser:
        page = browser.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(f"{served}/{folder + '/' if folder else ''}search.html?q={quote(query)}")
        page.wait_for_function("document.querySelector('#search-results .search-summary')"
                               "?.textContent.length > 0", timeout=60_000)  # liveness only: generous
        found = page.eval_on_selector_all("#search-results ul.search li a",
                                          "links => links.map(link => link.getAttribute('href'))")
        said = page.text_content("#search-results .search-summary")
    assert errors == []
    assert first in found and said.startswith(summary), (found, said)
    assert all(not href.startswith(("../", "/", "zh/", "http")) for href in found), found  # its own edition's


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def rebuild_with(site, tmp_path, edition, changes):
    """Build one edition again from a copy of the staged pages with links changed ((page, old, new) each; the
    English anchors the Chinese build checks against are in the copy)."""
    pages = tmp_path / "pages"
    shutil.copytree(site[0], pages, ignore=shutil.ignore_patterns("doctrees-*"))
    for page, old, new in changes:
        path = pages / edition / page
        text = path.read_text(encoding="utf-8")
        assert old in text
        path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return sphinx(pages, tmp_path / "site", editions=[edition])


#: (edition, page, old, new, what the build's warning about it says). One rebuild per edition: --keep-going
#: reports every warning, and each breakage is looked for in the line that names its page.
BREAKAGES = [
    ("zh", "notebooks/zh/01a_sockets.ipynb", "00_start_here.ipynb#", "00_start_here.ipynb#No-such-heading-",
     "No-such-heading-"),  # an anchor into a page of the same edition
    ("zh", "notebooks/zh/00_start_here.ipynb", "../../labs/README.zh-CN.md", "../../labs/NO_SUCH_FILE.md",
     "NO_SUCH_FILE"),  # a page no edition has
    ("zh", "notebooks/zh/02_ftp.ipynb", "../../labs/02_ftp/README.zh-CN.md", "../../labs/02_ftp/README.md#No-such-lab",
     "No-such-lab"),  # an anchor into the other edition
    ("en", "notebooks/01a_sockets.ipynb", "00_start_here.ipynb#", "00_start_here.ipynb#No-such-heading-",
     "No-such-heading-"),
]


@pytest.mark.parametrize("edition", ["zh", "en"])
def test_a_broken_internal_link_fails_the_build(site, tmp_path, edition):
    breakages = [b for b in BREAKAGES if b[0] == edition]
    done = rebuild_with(site, tmp_path, edition, [b[1:4] for b in breakages])
    assert done.returncode != 0
    lines = (done.stdout + done.stderr).splitlines()
    for _, page, _, _, said in breakages:
        name = page.split("/")[-1].replace(".ipynb", "")
        assert [line for line in lines if name in line and said in line], (page, lines)


def test_a_link_into_the_english_edition_with_its_anchor_builds(site, tmp_path):
    """The check of anchors across the editions is not a blanket failure: an existing one passes."""
    pages, _, out = site
    anchor = sorted(json.loads((pages / "en.anchors.json").read_text(encoding="utf-8"))["labs/README"])[0]
    assert anchor in Page(out / "labs/README.html").ids
    done = rebuild_with(site, tmp_path, "zh", [("notebooks/zh/00_start_here.ipynb", "../../labs/README.zh-CN.md",
                                                 f"../../labs/README.md#{anchor}")])
    assert done.returncode == 0, done.stdout + done.stderr
