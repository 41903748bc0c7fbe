"""Lines of local_servers/ then and now, split into old and added behaviour (a script, not a test)

    python3 bench/line_count.py [--base 8caf917] [--now REV] [--detail] [--grown N]

Issue 8's acceptance asks that "the line count of local_servers/ goes down,
not up, for the same behaviour". Raw `wc -l` cannot say that: later issues
added whole features. This script counts physical lines (`wc -l`: code,
docstrings, comments, blank lines) of every .py file under local_servers/ at
a base commit (read with `git show`; the grader, local_servers/grading/ then,
is another product and left out) and now (the work tree, or --now REV), and
splits today's lines into

- "same": code doing what the base commit's servers already did, in
  whatever new way (one engine instead of three copies counts here);
- "added": code whose whole job is a behaviour the base did not have, as
  listed in ADDED below: a whole file or package, or inside a shared file a
  function, class, method, module-level name, or one key of a module-level
  dict (a command table's row), found with `ast` by name. Every row names
  the issue and item it serves. No percentages, no guessing: a row that no
  longer matches anything is an error, so the table stays true.

Strict by design: a function that does old work and also serves a new
feature (IMAP's cmd_select with CONDSTORE, cmd_fetch with BINARY, HTTP's
dispatch, the engine's dispatch with its limits) counts as "same". So
"added" is a lower bound and "same" an upper bound; the rows marked
"unsure" in ADDED are the judgement calls.

The blank lines just before an added item (PEP 8's one or two before a def)
count with it: without the item they would not be there. Until 29 Nov 2026
evening they counted as "same"; the script still prints that figure too
(--separators-as-same makes it the table's).
"""

from __future__ import annotations

import argparse
import ast
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BASE = "8caf917"
EXCLUDED_AT_BASE = ("local_servers/grading/",)

# Areas, by path prefix (first match wins). Base paths use the flat layout of
# 8caf917, today's the folders of issue 8 Build 3.
AREAS = (
    "process, CLI, sockets",
    "engine, POP3, NNTP, IMAP",
    "SMTP",
    "FTP",
    "HTTP",
    "stores, seed",
    "issues 10-11 packages",
)
BASE_AREAS = (
    ("local_servers/imap/", "engine, POP3, NNTP, IMAP"),
    ("local_servers/pop3.py", "engine, POP3, NNTP, IMAP"),
    ("local_servers/nntp.py", "engine, POP3, NNTP, IMAP"),
    ("local_servers/smtp.py", "SMTP"),
    ("local_servers/ftp", "FTP"),  # ftp.py, ftp_handlers.py
    ("local_servers/http.py", "HTTP"),
    ("local_servers/mailstore.py", "stores, seed"),
    ("local_servers/mail_service.py", "stores, seed"),
    ("local_servers/news", "stores, seed"),  # newsstore.py, newsseed.py
    ("local_servers/", "process, CLI, sockets"),
)
NOW_AREAS = (
    ("local_servers/engine/", "engine, POP3, NNTP, IMAP"),
    ("local_servers/mail/imap/", "engine, POP3, NNTP, IMAP"),
    ("local_servers/mail/pop3.py", "engine, POP3, NNTP, IMAP"),
    ("local_servers/news/nntp.py", "engine, POP3, NNTP, IMAP"),
    ("local_servers/mail/smtp.py", "SMTP"),
    ("local_servers/ftp/", "FTP"),
    ("local_servers/http/", "HTTP"),
    ("local_servers/mail/", "stores, seed"),  # mailstore, mail_service, package docstring
    ("local_servers/news/", "stores, seed"),  # newsstore, newsseed, package docstring
    ("local_servers/wire/", "issues 10-11 packages"),
    ("local_servers/inspector/", "issues 10-11 packages"),
    ("local_servers/classroom/", "issues 10-11 packages"),
    ("local_servers/ports.py", "issues 10-11 packages"),
    ("local_servers/", "process, CLI, sockets"),
)

# Where each file of the base lives now (the layout of issue 8 Build 3), for --grown.
MOVED = {
    "local_servers/imap/": "local_servers/mail/imap/",
    "local_servers/pop3.py": "local_servers/mail/pop3.py",
    "local_servers/smtp.py": "local_servers/mail/smtp.py",
    "local_servers/mailstore.py": "local_servers/mail/mailstore.py",
    "local_servers/mail_service.py": "local_servers/mail/mail_service.py",
    "local_servers/nntp.py": "local_servers/news/nntp.py",
    "local_servers/newsstore.py": "local_servers/news/newsstore.py",
    "local_servers/newsseed.py": "local_servers/news/newsseed.py",
    "local_servers/ftp.py": "local_servers/ftp/server.py",
    "local_servers/ftp_handlers.py": "local_servers/ftp/handlers.py",
    "local_servers/http.py": "local_servers/http/server.py",
    "local_servers/sockets.py": "local_servers/sockets/server.py",
}

# What today's code does that 8caf917 did not: (path, item, issue and item, why).
# path: a file, or a folder ending in "/" (every file in it). item: None for the
# whole file; "name" or "Class.method" for a def or class (decorators included),
# a module-level assigned NAME, or "NAME['key']" for one entry of a module-level
# dict. "unsure" in the why marks a judgement call. Not listed, so counted as old behaviour: code that
# does an old job in a new, bounded way (NNTP's glob_match and LIST's list_match instead of backtracking
# regexes, search.contains reading a big body in pieces, the engine's framing, timers and STARTTLS),
# and the POP3 and NNTP commands, moved onto the engine.
I8B4 = "8 Build 4 (IMAP extensions)"
I8B5 = "8 Build 5 (bounded work and resources)"
I8B6 = "8 Build 6 (defects)"
I11 = "11 (see the wire)"
ADDED = (
    # Later issues' packages: nothing of them existed.
    ("local_servers/wire/", None, "11 Build 1, 3, 4", "transcripts, faults, provider profiles, OAuth"),
    ("local_servers/inspector/", None, "11 Build 2", "the inspector web page"),
    ("local_servers/classroom/", None, "10 Build 3", "the class server"),
    ("local_servers/ports.py", None, "10 Build 1", "a port block per user"),
    # Issue 8 Build 5 and 6: whole modules.
    ("local_servers/limits.py", None, I8B5, "connections bounded per service and per address"),
    ("local_servers/engine/half_close.py", None, I8B6, "TLS half-close: replies still go out after close_notify"),
    # The engine: the plumbing POP3, NNTP and IMAP had counts as same; these parts did not exist.
    ("local_servers/engine/line.py", "Registry.admit", I8B5, "connection limit at accept"),
    ("local_servers/engine/line.py", "Registry.leave", I8B5, "connection limit at close"),
    ("local_servers/engine/line.py", "raise_fd_limit", I8B5, "file-descriptor soft limit raised"),
    ("local_servers/engine/line.py", "THREADS", I8B5, "worker-thread offload: the threads"),
    ("local_servers/engine/line.py", "LineSession.in_thread", I8B5, "worker-thread offload"),
    ("local_servers/engine/line.py", "LineSession._finished", I8B5, "worker-thread offload: the reply when done"),
    ("local_servers/engine/line.py", "LineSession.max_literal", I8B5, "literal bound before login"),
    ("local_servers/engine/line.py", "LineSession.intercepted", "10 Build 3, 11 (see the wire)",
     "a class server's rate limit and the fault hook before a command"),
    ("local_servers/engine/line.py", "LineSession._end_after_half_close", I8B6,
     "close only once what was pipelined before a half-close is answered (unsure: also a plain EOF)"),
    ("local_servers/engine/line.py", "LineSession.eof_received", I8B6, "answer what was pipelined before a half-close (unsure: also a plain EOF)"),
    # POP3: a big maildrop, RETR or TOP goes to a worker thread (the rest of POP3 counts as same).
    ("local_servers/mail/pop3.py", "BIG_MESSAGE", I8B5, "worker-thread offload: a big message"),
    ("local_servers/mail/pop3.py", "SMALL_MAILDROP", I8B5, "worker-thread offload: a big maildrop"),
    ("local_servers/mail/pop3.py", "more_files_than", I8B5, "worker-thread offload: a big maildrop, counted bounded"),
    ("local_servers/mail/pop3.py", "POP3Session.open_without_stalling", I8B5, "worker-thread offload at login"),
    ("local_servers/mail/pop3.py", "POP3Session.in_thread_if_big", I8B5, "worker-thread offload of RETR and TOP"),
    # IMAP: whole modules of new extensions.
    ("local_servers/mail/imap/sort.py", None, I8B4, "SORT, ESORT, SORT=DISPLAY (RFC 5256, 5267, 5957)"),
    ("local_servers/mail/imap/thread.py", None, I8B4, "THREAD REFERENCES / ORDEREDSUBJECT (RFC 5256)"),
    ("local_servers/mail/imap/mutf7.py", None, I8B4, "UTF8=ACCEPT: names as UTF-8 after ENABLE, checked modified UTF-7 otherwise (RFC 6855 3)"),
    # IMAP server: commands and helpers of extensions.
    ("local_servers/mail/imap/server.py", "Session.cmd_id", I8B4, "ID (RFC 2971)"),
    ("local_servers/mail/imap/server.py", "Session.cmd_enable", I8B4, "ENABLE (RFC 5161)"),
    ("local_servers/mail/imap/server.py", "Session.cmd_notify", I8B4, "NOTIFY (RFC 5465)"),
    ("local_servers/mail/imap/server.py", "Session.watched_mailboxes", I8B4, "NOTIFY"),
    ("local_servers/mail/imap/server.py", "Session.send_notify_status", I8B4, "NOTIFY"),
    ("local_servers/mail/imap/server.py", "Session.report_watched", I8B4, "NOTIFY"),
    ("local_servers/mail/imap/server.py", "_notify_event", I8B4, "NOTIFY: one event of NOTIFY SET (was in cmd_notify)"),
    ("local_servers/mail/imap/server.py", "NOTIFY_EVENTS", I8B4, "NOTIFY"),
    ("local_servers/mail/imap/server.py", "NOTIFY_FILTERS", I8B4, "NOTIFY"),
    ("local_servers/mail/imap/server.py", "Session.cmd_sort", I8B4, "SORT"),
    ("local_servers/mail/imap/server.py", "Session.cmd_thread", I8B4, "THREAD"),
    ("local_servers/mail/imap/server.py", "Session.read_headers", I8B4, "SORT and THREAD"),
    ("local_servers/mail/imap/server.py", "_with_charset", I8B4, "SORT and THREAD"),
    ("local_servers/mail/imap/server.py", "Session.esearch", I8B4, "ESEARCH (RFC 4731), CONTEXT (RFC 5267)"),
    ("local_servers/mail/imap/server.py", "Session.update_searches", I8B4, "CONTEXT=SEARCH updates (RFC 5267)"),
    ("local_servers/mail/imap/server.py", "Session.cmd_cancelupdate", I8B4, "CANCELUPDATE (RFC 5267)"),
    ("local_servers/mail/imap/server.py", "_return_options", I8B4, "ESEARCH RETURN options"),
    ("local_servers/mail/imap/server.py", "_partial_range", I8B4, "PARTIAL (RFC 9394)"),
    ("local_servers/mail/imap/server.py", "RETURN_OPTIONS", I8B4, "ESEARCH"),
    ("local_servers/mail/imap/server.py", "QUIET_OPTIONS", I8B4, "ESEARCH"),
    ("local_servers/mail/imap/server.py", "Session.resync", I8B4, "QRESYNC (RFC 7162)"),
    ("local_servers/mail/imap/server.py", "Session.modseq_item", I8B4, "CONDSTORE (RFC 7162)"),
    ("local_servers/mail/imap/server.py", "Session.enable_condstore", I8B4, "CONDSTORE"),
    ("local_servers/mail/imap/server.py", "Session.announce_flags", I8B4, "the flag-tracking errors (RFC 3501 7.2.6)"),
    ("local_servers/mail/imap/server.py", "Session.catenate", I8B4, "CATENATE (RFC 4469)"),
    ("local_servers/mail/imap/server.py", "Session.url_data", I8B4, "CATENATE URL parts"),
    ("local_servers/mail/imap/server.py", "_IMAP_URL", I8B4, "CATENATE URL parts"),
    ("local_servers/mail/imap/server.py", "_binary_item", I8B4, "BINARY fetch items (RFC 3516)"),
    ("local_servers/mail/imap/server.py", "Session.binary_item", I8B4, "BINARY fetch items"),
    ("local_servers/mail/imap/server.py", "_fetch_modifiers", I8B4, "FETCH's CHANGEDSINCE and VANISHED (RFC 7162)"),
    ("local_servers/mail/imap/server.py", "Session.condstore_fetch", I8B4, "FETCH's MODSEQ and VANISHED (RFC 7162)"),
    ("local_servers/mail/imap/server.py", "Session.select_parameters", I8B4, "SELECT (CONDSTORE) / (QRESYNC ...)"),
    ("local_servers/mail/imap/server.py", "Session.condstore_select", I8B4, "SELECT's HIGHESTMODSEQ and resync"),
    ("local_servers/mail/imap/server.py", "Session.extended_message", I8B4, "APPEND CATENATE, UTF8, literal8"),
    ("local_servers/mail/imap/server.py", "_storable", I8B4, "BINARY APPEND: NULs stored in base64"),
    ("local_servers/mail/imap/server.py", "Session.store_modifier", I8B4, "STORE (UNCHANGEDSINCE) (RFC 7162)"),
    ("local_servers/mail/imap/server.py", "_unchanged", I8B4, "STORE (UNCHANGEDSINCE): MODIFIED"),
    ("local_servers/mail/imap/server.py", "Session.utf8", I8B4, "UTF8=ACCEPT (RFC 6855)"),
    ("local_servers/mail/imap/server.py", "Session.spelled", I8B4, "UTF8=ACCEPT: names as this session spells them"),
    ("local_servers/mail/imap/server.py", "Session.shown", I8B4, "UTF8=ACCEPT: spelled names (unsure: also quotes)"),
    ("local_servers/mail/imap/server.py", "MAX_PREAUTH_COMMAND", I8B5, "literals before login bounded"),
    ("local_servers/mail/imap/server.py", "SEARCH_IN_THREAD", I8B5, "big messages searched in a worker thread"),
    ("local_servers/mail/imap/server.py", "SLICE", I8B5, "long commands give the loop back"),
    ("local_servers/mail/imap/server.py", "Session.extension_state", "8 Build 4 / 11",
     "what ENABLE, SEARCHRES, CONTEXT, NOTIFY, flag tracking and a profile keep per session"),
    ("local_servers/mail/imap/server.py", "Session.list_status", I8B4, "LIST-STATUS (RFC 5819)"),
    ("local_servers/mail/imap/server.py", "Session.search_options", I8B4, "SEARCH RETURN; no CHARSET with UTF-8"),
    ("local_servers/mail/imap/server.py", "Session.search_return", I8B4, "ESEARCH reply, RETURN (UPDATE)"),
    ("local_servers/mail/imap/server.py", "Session.refresh_searches", I8B4, "CONTEXT=SEARCH updates (RFC 5267)"),
    ("local_servers/mail/imap/server.py", "Session.vanished", I8B4, "REMOVEFROM and VANISHED (RFC 5267, 7162)"),
    ("local_servers/mail/imap/server.py", "Session.authenticate_oauth2", I11, "XOAUTH2 for provider profiles"),
    ("local_servers/mail/imap/server.py", "Session.login_refused", I11, "a provider profile's refusal text"),
    ("local_servers/mail/imap/server.py", "EXTENSIONS", I8B4, "the extensions' capability names"),
    ("local_servers/mail/imap/server.py", "ENABLEABLE", I8B4, "ENABLE"),
    ("local_servers/mail/imap/server.py", "SERVER_ID", I8B4, "ID"),
    ("local_servers/mail/imap/server.py", "_Pause", I8B5, "long commands give the loop back (unsure: FETCH in pieces too)"),
    # IMAP store, search, MIME, syntax, LIST: extension parts.
    ("local_servers/mail/imap/store.py", "Folder._load_modseqs", I8B4, "CONDSTORE MODSEQ"),
    ("local_servers/mail/imap/store.py", "Folder.bump_expunged", I8B4, "QRESYNC HIGHESTMODSEQ"),
    ("local_servers/mail/imap/store.py", "Folder.bump", I8B4, "CONDSTORE MODSEQ"),
    ("local_servers/mail/imap/store.py", "Folder._journal", I8B4, "CONDSTORE MODSEQ journal"),
    ("local_servers/mail/imap/store.py", "Folder.adopt_flags", I8B4, "flag tracking on COPY/MOVE"),
    ("local_servers/mail/imap/store.py", "Folder._first_modseq", I8B4, "CONDSTORE MODSEQ of a message met in a scan"),
    ("local_servers/mail/imap/store.py", "Folder.stored_size", I8B5, "which messages are searched in a worker thread"),
    ("local_servers/mail/imap/store.py", "MAX_NAME_BYTES", I8B5, "mailbox names bounded: NO [LIMIT], not SERVERBUG"),
    ("local_servers/mail/imap/store.py", "too_long", I8B5, "mailbox names bounded: NO [LIMIT]"),
    ("local_servers/mail/imap/search.py", "_Budget", I8B5, "search keys and nesting bounded"),
    ("local_servers/mail/imap/search.py", "_deeper", I8B5, "nesting depth bounded"),
    ("local_servers/mail/imap/search.py", "_extension_key", I8B4, "SEARCH MODSEQ (RFC 7162), OLDER/YOUNGER (RFC 5032)"),
    ("local_servers/mail/imap/search.py", "MAX_KEYS", I8B5, "search keys bounded"),
    ("local_servers/mail/imap/search.py", "MAX_DEPTH", I8B5, "search nesting bounded"),
    ("local_servers/mail/imap/syntax.py", "MAX_SET_RANGES", I8B5, "sequence sets bounded: NO [LIMIT]"),
    ("local_servers/mail/imap/syntax.py", "_QUOTABLE_UTF8", I8B4, "UTF8=ACCEPT: UTF-8 in quoted strings"),
    ("local_servers/mail/imap/store.py", "MODSEQ_FILE", I8B4, "CONDSTORE MODSEQ journal"),
    ("local_servers/mail/imap/mime.py", "MAX_DEPTH", I8B5, "MIME nesting bounded"),
    ("local_servers/mail/imap/listing.py", "SELECT_OPTIONS", I8B4, "LIST-EXTENDED"),
    ("local_servers/mail/imap/listing.py", "RETURN_OPTIONS", I8B4, "LIST-EXTENDED"),
    ("local_servers/mail/imap/listing.py", "SPECIAL_USE", I8B4, "SPECIAL-USE (RFC 6154)"),
    ("local_servers/mail/imap/mime.py", "_source_route", I8B4, "fetch-envelope: source routes, not NIL"),
    ("local_servers/mail/imap/mime.py", "_ROUTE", I8B4, "fetch-envelope: source routes"),
    ("local_servers/mail/imap/mime.py", "binary_data", I8B4, "BINARY (RFC 3516)"),
    ("local_servers/mail/imap/mime.py", "decode_qp", I8B4, "BINARY (unsure: SEARCH BODY uses it too)"),
    ("local_servers/mail/imap/mime.py", "storable", I8B4, "BINARY APPEND (literal8)"),
    ("local_servers/mail/imap/syntax.py", "SavedSet", I8B4, "SEARCHRES (RFC 5182)"),
    ("local_servers/mail/imap/syntax.py", "LimitExceeded", I8B5, "NO [LIMIT] (RFC 5530)"),
    ("local_servers/mail/imap/syntax.py", "Args.option_list", I8B4, "LIST-EXTENDED and RETURN options"),
    ("local_servers/mail/imap/syntax.py", "literal8", I8B4, "BINARY"),
    ("local_servers/mail/imap/listing.py", "_status_items", I8B4, "LIST-STATUS (unsure: STATUS uses it too)"),
    ("local_servers/mail/imap/listing.py", "ListRequest.extended", I8B4, "LIST-EXTENDED (RFC 5258)"),
    ("local_servers/mail/imap/listing.py", "superiors", I8B4, "RECURSIVEMATCH (unsure: \\Noselect uses it too)"),
    ("local_servers/mail/imap/listing.py", "_extension_attributes", I8B4, "\\Subscribed, special-use (RFC 5258, 6154)"),
    ("local_servers/mail/imap/listing.py", "_selection", I8B4, "LIST-EXTENDED selection options (RFC 5258)"),
    ("local_servers/mail/imap/listing.py", "_returns", I8B4, "LIST-EXTENDED RETURN options (RFC 5258, 5819)"),
    # SMTP.
    ("local_servers/mail/smtp.py", "_guarded", I8B6, "a lone CR in a command: 501; and the fault hook (11) before "
     "MAIL, RCPT and DATA"),
    ("local_servers/mail/smtp.py", "LINE_BREAKERS", I8B6, "a lone CR in a command: 501 (_guarded reads it)"),
    ("local_servers/mail/smtp.py", "_InputEndsSession", I8B6, "replies after a half-close"),
    ("local_servers/mail/smtp.py", "CourseSMTP.eof_received", I8B6, "replies after a half-close"),
    ("local_servers/mail/smtp.py", "CourseSMTP.smtp_STARTTLS", I8B6, "half-close over STARTTLS"),
    ("local_servers/mail/smtp.py", "CourseSMTP._handle_client", I11, "fault hook at the greeting"),
    ("local_servers/mail/smtp.py", "CourseSMTP.push", I11, "transcript hook"),
    ("local_servers/mail/smtp.py", "CourseSMTP.auth_XOAUTH2", I11, "XOAUTH2"),
    ("local_servers/mail/smtp.py", "CourseSMTP.auth_OAUTHBEARER", I11, "OAUTHBEARER"),
    ("local_servers/mail/smtp.py", "CourseSMTP.oauth2", I11, "OAuth 2 for provider profiles"),
    ("local_servers/mail/smtp.py", "CourseSMTP.__init__", I8B5, "none at base: limit (B5), half-close reader (B6), "
     "transcript and provider profile (11)"),
    ("local_servers/mail/smtp.py", "CourseSMTP._admit", I8B5, "connection limit: 421; transcript opened (11)"),
    ("local_servers/mail/smtp.py", "CourseSMTP.connection_lost", I8B5, "none at base: limit freed, transcript closed"),
    ("local_servers/mail/smtp.py", "CourseSMTP.data_received", I11, "none at base: fault hook mid-DATA"),
    # FTP.
    ("local_servers/ftp/handlers.py", "CourseDTPHandler._note_transfer", I11, "transcript of data connections"),
    ("local_servers/ftp/handlers.py", "CourseFTPHandler.push", I11, "transcript hook"),
    ("local_servers/ftp/handlers.py", "CourseFTPHandler.handle_ssl_established", I11, "transcript: TLS on"),
    ("local_servers/ftp/handlers.py", "CourseFTPHandler.on_login", I11, "transcript: who logged in"),
    ("local_servers/ftp/handlers.py", "CourseDTPHandler.secure_connection", I8B6, "lftp's FTPS upload: TLS 1.2 data"),
    ("local_servers/ftp/handlers.py", "CourseFTPHandler.handle", I11, "fault hook at the banner"),
    ("local_servers/ftp/handlers.py", "CourseFTPHandler.ftp_OPTS", "12 Build 5 (GBK names)",
     "OPTS UTF8 OFF: GBK names"),
    ("local_servers/ftp/handlers.py", "CourseFTPHandler.pre_process_command", I8B6, "a NUL in a path: 501"),
    ("local_servers/ftp/handlers.py", "CourseDTPHandler.handle_close", I11, "none at base: a cut download: 426"),
    ("local_servers/ftp/handlers.py", "CourseFTPHandler._open_transcript", I11, "transcript of the session"),
    ("local_servers/ftp/handlers.py", "_TEMP_NAME", I11, "transcript: an upload under the name the client gave"),
    ("local_servers/ftp/server.py", "FTPService._newer_settings", "10 Build 3, 11 Build 1, 8 Build 6",
     "none at base: TLS-only logins beyond loopback and class limits (10), transcripts (11), TLS 1.2 data (B6)"),
    # HTTP.
    ("local_servers/http/server.py", "HeadClock", I8B5, "header timeout, 408"),
    ("local_servers/http/server.py", "Handler.handle_one_request", I8B5, "408 to a slow head"),
    ("local_servers/http/server.py", "Handler.send_bare", I8B6, "400/408 and close for a request never read whole"),
    ("local_servers/http/server.py", "Handler.body_length", I8B6, "request smuggling refused (RFC 9112 6.3)"),
    ("local_servers/http/server.py", "Server.process_request", I8B5, "connection limit"),
    ("local_servers/http/server.py", "Server.refuse", I8B5, "503 to one connection too many"),
    ("local_servers/http/server.py", "CountingWriter", I11, "transcript: body sizes"),
    ("local_servers/http/server.py", "Handler.flush_headers", I11, "transcript hook"),
    ("local_servers/http/server.py", "Handler.finish", I11, "transcript closed"),
    ("local_servers/http/server.py", "Handler.parse_request", I11, "transcript hook; the head's clock stops (B5)"),
    ("local_servers/http/server.py", "Handler.watch_streams", I8B5, "none at base: the head clock (408); "
     "the transcript and its byte counter (11)"),
    ("local_servers/http/server.py", "Handler.route_oauth_token", I11, "OAuth token endpoint"),
    ("local_servers/http/server.py", "CONTENT_LENGTH", I11, "transcript: a body's size (flush_headers reads it)"),
    # Process machinery, CLI, service contract.
    ("local_servers/cli.py", "_fault_parser", I11, "fault command"),
    ("local_servers/cli.py", "_fault_command", I11, "fault command"),
    ("local_servers/cli.py", "_say_profile", I11, "profile command"),
    ("local_servers/cli.py", "_profile", I11, "profile command"),
    ("local_servers/cli.py", "_wire_parsers", I11, "the profile, transcripts and inspect commands' arguments"),
    ("local_servers/cli.py", "_transcripts", I11, "transcripts command"),
    ("local_servers/cli.py", "_inspect", I11, "inspect command"),
    ("local_servers/cli.py", "_say_not_applied", "8 Build 2 (typed options)",
     "up on running servers says which settings changed nothing"),
    ("local_servers/sockets/server.py", "_TCPReply.admit", I8B5,
     "connection limit at accept, and its transcript (11)"),
    ("local_servers/sockets/server.py", "_TCPReply.connection_lost", I8B5,
     "connection limit released, and the transcript's summary (11)"),
    ("local_servers/sockets/server.py", "_TCPReply.pause_writing", I8B5, "flow control: a client that never reads"),
    ("local_servers/sockets/server.py", "_TCPReply.resume_writing", I8B5, "flow control: a client that never reads"),
    ("local_servers/control.py", "_spawn_in_a_block", "10 Build 1", "a port block per user"),
    ("local_servers/serve.py", "_class_handle", "10 Build 3", "a class server's handle, published without passwords"),
    ("local_servers/handle.py", "Handle.login", "10 Build 3", "a student's own account on a class server"),
    ("local_servers/config.py", "DEFAULT_PORTS['inspector']", I11, "the inspector's port"),
    ("local_servers/handle.py", "Handle.profile", I11, "provider profiles"),
    ("local_servers/handle.py", "Handle.app_password", I11, "provider profiles"),
    ("local_servers/handle.py", "Handle.oauth_client", I11, "provider profiles"),
    ("local_servers/handle.py", "Handle.fault", I11, "faults"),
    ("local_servers/handle.py", "Handle.faults", I11, "faults"),
    ("local_servers/handle.py", "Handle.transcripts", I11, "transcripts"),
    ("local_servers/handle.py", "Handle.inspector_url", I11, "inspector"),
    ("local_servers/handle.py", "Handle._protocols", I11, "the inspector left out of the tables"),
    ("local_servers/handle.py", "TOOLS", I11, "the inspector left out of the tables"),
    ("local_servers/tls.py", "bad_certificate", I11, "fault: a bad certificate"),
    ("local_servers/service.py", "_another_port", "9 Build 1", "a printed command that works as typed"),
    ("local_servers/service.py", "validate_options", "8 Build 2 (typed options)", "unknown keys rejected"),
    ("local_servers/scratch.py", None, "12 Build 3", "reset_scratch: a chapter's setup in a helper"),
    # Stores and seed.
    ("local_servers/mail/mailstore.py", "_charset_mail", "12 Build 5 / 13 Build 3", "GBK/GB2312 Sent folder"),
    ("local_servers/mail/mailstore.py", "_chinese_inbox_mail", "13 Build 3", "a GBK letter in alice's INBOX"),
    ("local_servers/mail/mailstore.py", "_b64", "13 Build 3", "for the Chinese letter"),
    ("local_servers/mail/mailstore.py", "CHINESE_SENT", "12 Build 5 / 13 Build 3", "the Chinese folder's name"),
    ("local_servers/mail/mailstore.py", "_seed_chinese", "12 Build 5 / 13 Build 3", "the Chinese letters delivered"),
    ("local_servers/news/newsseed.py", "_gb_word", "13 Build 3", "GB2312 encoded-words"),
    ("local_servers/news/newsseed.py", "CN", "13 Build 3", "cn.comp.lang.python's articles"),
    ("local_servers/mail/mail_service.py", "_seed_profile", I11, "a provider profile's folders and mail"),
    ("local_servers/news/newsseed.py", "PEOPLE['lilei']", "13 Build 3", "an author of cn.comp.lang.python"),
    ("local_servers/news/newsseed.py", "PEOPLE['hanmeimei']", "13 Build 3", "an author of cn.comp.lang.python"),
    ("local_servers/news/newsseed.py", "PEOPLE['wangfang']", "13 Build 3", "an author of cn.comp.lang.python"),
)


def git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(REPO), *args], check=True, capture_output=True, text=True).stdout


def sources_at(rev: str | None) -> dict[str, str]:
    """{path: text} of the .py files under local_servers/ at rev (None: the work tree)."""
    if rev is None:
        names = git("ls-files", "-co", "--exclude-standard", "local_servers").split("\n")
        return {n: (REPO / n).read_text(encoding="utf-8") for n in names if n.endswith(".py") and (REPO / n).exists()}
    names = git("ls-tree", "-r", "--name-only", rev, "local_servers").split("\n")
    return {n: git("show", f"{rev}:{n}") for n in names if n.endswith(".py")}


def line_count(text: str) -> int:
    """As `wc -l` counts: newline characters."""
    return text.count("\n")


def area_of(path: str, table) -> str:
    return next(area for prefix, area in table if path.startswith(prefix))


def spans(tree: ast.Module) -> dict[str, tuple[int, int]]:
    """Every name ADDED may use, with its first and last line."""
    found = {}

    def walk(body, prefix):
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                start = min([node.lineno] + [d.lineno for d in node.decorator_list])
                found[prefix + node.name] = (start, node.end_lineno)
                if isinstance(node, ast.ClassDef):
                    walk(node.body, prefix + node.name + ".")
            elif not prefix and isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    if isinstance(target, ast.Name):
                        found[target.id] = (node.lineno, node.end_lineno)
                        if isinstance(node.value, ast.Dict):
                            for key, value in zip(node.value.keys, node.value.values):
                                if isinstance(key, ast.Constant):
                                    found[f"{target.id}[{key.value!r}]"] = (key.lineno, value.end_lineno)

    walk(tree.body, "")
    return found


def now_path(base_path: str) -> str:
    for old, new in MOVED.items():
        if base_path.startswith(old):
            return new + base_path[len(old):]
    return base_path


def grown(base: dict[str, str], now: dict[str, str], added: dict[str, set[int]], most: int) -> None:
    """The functions and methods of the base that are longer now (their added lines left out)."""
    rows = []
    for path, text in base.items():
        new_path = now_path(path)
        if new_path not in now:
            continue
        before = spans(ast.parse(text))
        after = spans(ast.parse(now[new_path]))
        for name, (first, last) in after.items():
            if name in before and not _has_inner(after, name):
                same = sum(1 for n in range(first, last + 1) if n not in added.get(new_path, ()))
                rows.append((same - (before[name][1] - before[name][0] + 1), new_path, name))
    rows.sort(reverse=True)
    print(f"\nThe {most} functions of the base that grew most (same behaviour, now minus then):")
    for delta, path, name in rows[:most]:
        print(f"  {delta:+5d}  {path.removeprefix('local_servers/')}  {name}")


def _has_inner(found: dict, name: str) -> bool:
    """A class (its methods are counted one by one)."""
    return any(other.startswith(name + ".") for other in found)


def added_lines(sources: dict[str, str], separators: bool = True) -> tuple[dict[str, set[int]], list[tuple]]:
    """{path: line numbers that are added behaviour}, and ADDED's rows with their line counts."""
    added: dict[str, set[int]] = defaultdict(set)
    rows, parsed, missing = [], {}, []
    for path, item, issue, why in ADDED:
        files = [p for p in sources if p == path or (path.endswith("/") and p.startswith(path))]
        if not files:
            missing.append((path, item))
            continue
        if item is None:
            lines = {(p, n) for p in files for n in range(1, line_count(sources[p]) + 1)}
        else:
            if path not in parsed:
                parsed[path] = spans(ast.parse(sources[path]))
            if item not in parsed[path]:
                missing.append((path, item))
                continue
            first, last = parsed[path][item]
            text_lines = sources[path].split("\n")
            while separators and first > 1 and not text_lines[first - 2].strip():
                first -= 1  # the blank lines that set it apart came with it (PEP 8: one or two before a def)
            lines = {(path, n) for n in range(first, last + 1)}
        for p, n in lines:
            added[p].add(n)
        rows.append((path, item, issue, why, len(lines)))
    if missing:
        sys.exit("ADDED names what is not there any more (update the table):\n"
                 + "\n".join(f"  {p} {i or ''}" for p, i in missing))
    return added, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", default=BASE, help="the commit before issue 8 (default %(default)s)")
    parser.add_argument("--now", default=None, help="a commit to count instead of the work tree")
    parser.add_argument("--detail", action="store_true", help="list ADDED's rows with their lines")
    parser.add_argument("--grown", type=int, default=0, metavar="N",
                        help="also list the N functions of the base that grew most as same behaviour")
    parser.add_argument("--separators-as-same", action="store_true",
                        help="count the blank lines before an added item as same behaviour (the older rule)")
    args = parser.parse_args()

    base = {p: t for p, t in sources_at(args.base).items() if not p.startswith(EXCLUDED_AT_BASE)}
    now = sources_at(args.now)
    added, rows = added_lines(now, separators=not args.separators_as_same)

    table = {area: [0, 0, 0] for area in AREAS}  # base, now same, now added
    for path, text in base.items():
        table[area_of(path, BASE_AREAS)][0] += line_count(text)
    for path, text in now.items():
        n_added = len(added.get(path, ()))
        table[area_of(path, NOW_AREAS)][1] += line_count(text) - n_added
        table[area_of(path, NOW_AREAS)][2] += n_added

    print(f"Lines (wc -l) of local_servers/**/*.py: base {args.base} (without grading/) and now "
          f"({args.now or 'work tree'}), now split by bench/line_count.py's ADDED table.\n")
    print("| Area | base | now: same behaviour | now: added behaviour | same − base |")
    print("|---|---:|---:|---:|---:|")
    totals = [0, 0, 0]
    for area, (b, same, new) in table.items():
        totals = [t + v for t, v in zip(totals, (b, same, new))]
        print(f"| {area} | {b:,} | {same:,} | {new:,} | {same - b:+,} |")
    b, same, new = totals
    print(f"| **total** | **{b:,}** | **{same:,}** | **{new:,}** | **{same - b:+,}** |")
    other_rule = added_lines(now, separators=args.separators_as_same)[0]
    moved = sum(len(lines) for lines in added.values()) - sum(len(lines) for lines in other_rule.values())
    rule = "as same behaviour" if args.separators_as_same else "with the item they precede"
    print(f"\nBlank lines before an added item, here counted {rule}: {abs(moved):,}. "
          f"Counted the other way, same - base would be {same - b + moved:+,}.")

    if args.grown:
        grown(base, now, added, args.grown)
    if args.detail:
        by_issue: dict[str, int] = defaultdict(int)
        print("\n| Path | item | issue | why | lines |")
        print("|---|---|---|---|---:|")
        for path, item, issue, why, n in rows:
            by_issue[issue] += n
            print(f"| {path} | {item or '(whole)'} | {issue} | {why} | {n} |")
        print("\nAdded lines by issue item (rows may overlap; the table above counts each line once):")
        for issue, n in sorted(by_issue.items(), key=lambda kv: -kv[1]):
            print(f"  {n:6,}  {issue}")


if __name__ == "__main__":
    main()
