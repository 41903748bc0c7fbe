"""The HTML of the inspector's views: built from strings, every value escaped.

Mail, news and transcripts are hostile input: a message's HTML is shown as its
source text, never rendered, and every value that reaches a page goes through
esc() (or attr() inside attributes). The page's Content-Security-Policy (web.py)
allows only the inspector's own script, so even a mistake here could not run a
message's script. Live parts carry data-live="<url>": inspector.js fetches that
URL's fragment (server-rendered HTML, escaped the same way) every few seconds.
"""

from __future__ import annotations

import datetime
import html
from urllib.parse import quote

from .stores import Mailbox, Part, Summary, TreeEntry, folder_name

NAV = (("/", "Overview"), ("/mail", "Mail"), ("/ftp", "FTP"), ("/news", "News"), ("/sessions", "Sessions"),
       ("/faults", "Faults"))


def esc(value) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def link(*segments) -> str:
    """A path built from segments, each percent-encoded (a Maildir key or folder name may hold anything)."""
    return "/" + "/".join(quote(str(s), safe="") for s in segments)


def size(n: int) -> str:
    for unit in ("B", "KiB", "MiB"):
        if n < 1024 or unit == "MiB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


WHO = {"C": "c", "S": "s"}  # CSS classes of the speakers ("*": a note)


def depth(level: int) -> str:
    """The CSS class that indents a tree level (inline styles are not allowed by the page's CSP)."""
    return f"depth-{min(int(level), 12)}"


def when(value) -> str:
    """A time as UTC text: the transcripts give seconds since the epoch (or already text)."""
    if isinstance(value, (int, float)):
        return datetime.datetime.fromtimestamp(value, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    return "" if value is None else str(value)


def layout(title: str, body: str, *, current: str, status: str, viewer_note: str) -> str:
    nav = "".join(f'<a href="{href}"{" aria-current=page" if href == current else ""}>{esc(name)}</a>'
                  for href, name in NAV)
    return ("<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
            f"<title>{esc(title)} · course inspector</title>"
            '<meta name=viewport content="width=device-width, initial-scale=1">'
            '<link rel=stylesheet href="/static/inspector.css"><script src="/static/inspector.js" defer></script>'
            f"</head><body><header><strong>Course inspector</strong><nav>{nav}</nav>"
            f'<span class=status data-live="/status?fragment=1">{status}</span>'
            f"<span class=viewer>{esc(viewer_note)}</span></header>"
            f"<main><h1>{esc(title)}</h1>{body}</main></body></html>\n")


def status_line(profile, faults) -> str:
    """The header's summary: the provider profile and how many faults are active."""
    parts = []
    if profile is not False:
        parts.append(f"profile: <b>{esc(profile or 'none')}</b>")
    if faults is not None:
        parts.append(f'<a href="/faults">faults: <b class=faults-count>{len(faults)}</b></a>')
    return " · ".join(parts)


def table(headings: list[str], rows: list[list[str]], *, cls: str = "", empty: str = "nothing here") -> str:
    """A table whose cells are already HTML (escape values before)."""
    if not rows:
        return f"<p class=empty>{esc(empty)}</p>"
    head = "".join(f"<th>{esc(h)}</th>" for h in headings)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f'<table class="{esc(cls)}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def pager(base: str, page: int, pages: int) -> str:
    if pages <= 1:
        return ""
    prev = f'<a rel=prev href="{esc(base)}?page={page - 1}">newer</a>' if page > 0 else ""
    nxt = f'<a rel=next href="{esc(base)}?page={page + 1}">older</a>' if page + 1 < pages else ""
    return f"<p class=pager>{prev} page {page + 1} of {pages} {nxt}</p>"


# -- overview -------------------------------------------------------------------------------------

def overview(counts: dict[str, str], resets: list[str], csrf: str | None) -> str:
    rows = [[esc(name), esc(value)] for name, value in counts.items()]
    body = table(["what", "how much"], rows, cls="counts")
    if csrf is not None:
        buttons = "".join(
            f'<form method=post action="/reset" class=reset><input type=hidden name=csrf value="{esc(csrf)}">'
            f'<input type=hidden name=service value="{esc(name)}"><button type=submit>reset {esc(name)}</button></form>'
            for name in resets)
        body += ("<h2>Reset</h2><p>Restores a service's seeded data. The servers restart (a second or two): "
                 f"open sessions end.</p><div class=resets>{buttons}</div>")
    return body


def resetting(service: str, pid: int) -> str:
    return (f'<p id=resetting data-wait="/ping" data-pid="{pid}">Resetting {esc(service)}: the servers restart. '
            'This page returns to the overview when they are back.</p><p><a href="/">Overview</a></p>')


# -- mail -----------------------------------------------------------------------------------------

def mail_index(boxes: list[Mailbox]) -> str:
    rows = [[esc(b.user), f'<a href="{esc(link("mail", b.user, b.folder))}">{esc(folder_name(b.folder))}</a>'
             + (f' <code>{esc(b.folder)}</code>' if folder_name(b.folder) != b.folder else ""), esc(b.count)]
            for b in boxes]
    return table(["account", "mailbox", "messages"], rows, cls="mailboxes", empty="no mailboxes")


def mailbox(user: str, folder: str, total: int, summaries: list[Summary], page: int, per_page: int) -> str:
    rows = [[f'<a href="{esc(link("mail", user, folder, s.key))}">{esc(s.subject or "(no subject)")}</a>',
             esc(s.sender), esc(s.date), esc(size(s.size)), esc(s.flags)] for s in summaries]
    pages = (total + per_page - 1) // per_page
    return (f"<p>{total} message(s), newest first.</p>"
            + table(["subject", "from", "date", "size", "flags"], rows, cls="messages", empty="no messages")
            + pager(link("mail", user, folder), page, pages))


def message(headers: list[tuple[str, str, str]], parts: list[Part], raw: str, full_size: int, shown: int,
            tree_cut: bool = False) -> str:
    """headers: (name, as sent, decoded); parts: the MIME tree (of the message's start if tree_cut)."""
    head_rows = [[esc(name), f"<code>{esc(value)}</code>" + (f"<div class=decoded>{esc(decoded)}</div>"
                                                               if decoded != value else "")]
                 for name, value, decoded in headers]
    tree = "".join(
        f'<li class="part {depth(p.depth)}"><code>{esc(p.content_type)}</code>'
        + (f" charset={esc(p.charset)}" if p.charset else "")
        + (f" · {esc(p.disposition)}" if p.disposition else "")
        + (f" · file <b>{esc(p.filename)}</b>" if p.filename else "")
        + (f" · {esc(p.encoding)}" if p.encoding else "")
        + ("" if p.content_type.startswith("multipart/") else f" · {esc(size(p.size))}")
        + (f'<pre class=part-text>{esc(p.text)}</pre>' if p.text is not None else "")
        + ("<p class=note>(cut: the part is longer)</p>" if p.truncated else "")
        + "</li>"
        for p in parts)
    cut = (f"<p class=note>Only the first {size(shown)} of {size(full_size)} are shown.</p>"
           if full_size > shown else "")
    return (f'<nav class=toc><a href="#headers">headers</a> <a href="#mime">MIME tree</a> '
            f'<a href="#raw">raw source</a></nav>'
            f'<h2 id=headers>Headers</h2>{table(["field", "value"], head_rows, cls="headers")}'
            f'<h2 id=mime>MIME tree</h2><p class=note>HTML parts are shown as their source, never rendered.</p>'
            f'<ul class=mime-tree>{tree}</ul>'
            + ("<p class=note>(the tree shows the message's first parts only: it is larger or has more parts "
               "than the inspector parses)</p>" if tree_cut else "")
            + f'<h2 id=raw>Raw source ({esc(size(full_size))})</h2>{cut}<pre class=raw>{esc(raw)}</pre>')


# -- FTP --------------------------------------------------------------------------------------------

def ftp(entries: list[TreeEntry], cut: bool) -> str:
    rows = [[f'<span class="tree {depth(e.depth)}">{esc(e.path.rsplit("/", 1)[-1])}{"/" if e.is_dir else ""}</span>',
             "" if e.is_dir else esc(size(e.size)), f"<code>/{esc(e.path)}</code>"] for e in entries]
    note = "<p class=note>(the tree is longer: only its first entries are listed)</p>" if cut else ""
    return ("<p>The FTP server's folder: <code>public/</code> is what anonymous users see as <code>/</code>; "
            "<code>home/&lt;account&gt;/</code> is each account's own.</p>"
            + table(["name", "size", "path in the data folder"], rows, cls="ftp-tree", empty="no files") + note)


# -- news ---------------------------------------------------------------------------------------------

def news_index(groups) -> str:
    rows = [[f'<a href="{esc(link("news", g.name))}">{esc(g.name)}</a>', esc(g.description), esc(len(g.articles)),
             "posting" if g.posting == "y" else "read-only"] for g in groups]
    return table(["group", "description", "articles", "posting"], rows, cls="groups", empty="no groups")


def news_group(group, threads_page, page: int, pages: int) -> str:
    items = []
    for thread in threads_page:
        lines = "".join(
            f'<li class="{depth(level)}"><a href="{esc(link("news", group.name, a.number))}">'
            f'{esc(a.subject or "(no subject)")}</a> <span class=who>{esc(a.sender)}</span> '
            f'<span class=num>#{a.number}</span></li>' for level, a in thread)
        items.append(f"<ul class=thread>{lines}</ul>")
    body = "".join(items) or "<p class=empty>no articles</p>"
    return (f"<p>{esc(group.description)}</p><p>{len(group.articles)} article(s), threads newest first.</p>"
            f"<div class=threads>{body}</div>" + pager(link("news", group.name), page, pages))


def article(raw: str) -> str:
    return f"<pre class=raw>{esc(raw)}</pre>"


# -- sessions and faults ---------------------------------------------------------------------------------

def missing(what: str, branch: str) -> str:
    return f"<p class=empty>{esc(what)} are not part of this build (they come with local_servers/wire/{esc(branch)}).</p>"


def sessions_table(sessions) -> str:
    rows = []
    for s in reversed(sessions):
        live = getattr(s, "ended", None) is None
        rows.append([f'<a href="{esc(link("sessions", s.id))}">{esc(s.id)}</a>', esc(s.service), esc(s.peer),
                     esc(s.user or ""), esc(when(s.started)),
                     '<span class=live>live</span>' if live else esc(when(s.ended)),
                     "TLS" if s.tls else "", esc(len(s.events))])
    return table(["session", "service", "peer", "user", "started", "ended", "", "events"], rows, cls="sessions",
                 empty="no sessions yet: connect to a server")


def sessions(sessions_html: str, services: list[str], chosen: str | None) -> str:
    """The sessions list, newest first, of every service or one (links to choose), refreshing itself."""
    choices = " ".join(
        f"<b>{esc(label)}</b>" if name == chosen else f'<a href="/sessions{esc(query)}">{esc(label)}</a>'
        for name, label, query in [(None, "all", "")] + [(n, n, f"?service={quote(n)}") for n in services
                                                        if n != "inspector"])
    live = "/sessions?fragment=1" + (f"&service={quote(chosen)}" if chosen else "")
    return (f"<p class=filter>Service: {choices}</p><p>Newest first; this list updates by itself.</p>"
            f'<div data-live="{esc(live)}">{sessions_html}</div>')


def transcript_table(session) -> str:
    rows = [[esc(f"{e.t:.3f}"), f'<span class="who who-{WHO.get(e.who, "n")}">{esc(e.who)}</span>',
             f"<pre>{esc(e.text)}</pre>", esc(e.size), "TLS" if e.tls else ""] for e in session.events]
    state = "live" if session.ended is None else f"ended {when(session.ended)}"
    return (f"<p class=session-state>{esc(session.service)} · {esc(session.peer)} · user {esc(session.user or '-')} · "
            f"{esc(state)}</p>" + table(["t (s)", "", "text", "bytes", ""], rows, cls="transcript", empty="no events yet"))


def transcript(session_id: str, transcript_html: str, live: bool) -> str:
    """A session's dialogue; while the session is open it refreshes itself."""
    refresh = f' data-live="{esc(link("sessions", session_id))}?fragment=1"' if live else ""
    return (f'<div{refresh}>{transcript_html}</div>'
            '<p class=note>C: the client, S: the server, *: a note of the course (TLS started, a fault). '
            'Passwords and AUTH data are masked.</p>')


def faults_table(faults: list[dict], csrf: str | None) -> str:
    rows = []
    for fault in faults:
        detail = fault.get("what") or ", ".join(f"{k}={v}" for k, v in fault.items()
                                                 if k != "id" and v not in (None, "", 0, 0.0))
        button = (f'<form method=post action="/faults/clear"><input type=hidden name=csrf value="{esc(csrf)}">'
                  f'<input type=hidden name=id value="{esc(fault.get("id", ""))}"><button>clear</button></form>'
                  if csrf is not None else "")
        rows.append([esc(fault.get("id", "")), esc(detail), button])
    return table(["fault", "what", ""], rows, cls="faults", empty="no active faults")


def faults(faults_html: str, csrf: str | None, any_active: bool) -> str:
    clear_all = (f'<form method=post action="/faults/clear"><input type=hidden name=csrf value="{esc(csrf)}">'
                 '<button>clear all faults</button></form>' if csrf is not None and any_active else "")
    return f'<div data-live="/faults?fragment=1">{faults_html}</div>{clear_all}'
