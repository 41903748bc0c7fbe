"""The IMAP view of the mail store: folders, UIDs and flags on top of Maildir.

A Maildir has no UIDs; IMAP needs them. Each folder keeps its own in a file
`.imap-uids` (UIDVALIDITY, UIDNEXT, then one "uid key" line per message),
written atomically whenever new UIDs are handed out. UIDs are given in
arrival order (file mtime, then key) and never reused.

Flags live in the file name, the Maildir way: `<key>!2,FRS` (see
mailstore.py). Keywords ($Forwarded, Work, ...) use the lower-case letters
a-z, each letter's keyword listed in the folder's `.imap-keywords` file.

Every session of a user shares one Folder object per mailbox (everything
runs on one asyncio loop, so there are no locks). Folder.scan() lists new/
and cur/ again (one directory listing, cheap) and notices what SMTP
delivered, what POP3 deleted, and flags changed by anyone.

\\Recent follows Maildir's own meaning of new/: a message in new/ has not
been seen by any mail reader yet. The first session that has the folder
selected read-write and sees it claims it (it is \\Recent for that session
only) and moves it from new/ to cur/, as Maildir readers do. Messages that
APPEND, COPY or MOVE add are recent too. Until claimed they wait in
Folder.recent_pool; EXAMINE sessions see them as recent but do not claim.
Messages already in cur/ when the server first meets them are not recent.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import time
from pathlib import Path

from .. import mailstore
from ...files import write_atomically
from .listing import superiors

COLON = mailstore.COLON
#: Maildir info letters <-> IMAP system flags (P, "passed", has no IMAP flag and is kept as is).
LETTER_FLAGS = {"D": "\\Draft", "F": "\\Flagged", "R": "\\Answered", "S": "\\Seen", "T": "\\Deleted"}
FLAG_LETTERS = {flag.lower(): letter for letter, flag in LETTER_FLAGS.items()}
SYSTEM_FLAGS = ("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft")
MAX_KEYWORDS = 26
UIDS_FILE = ".imap-uids"
MODSEQ_FILE = ".imap-modseq"
KEYWORDS_FILE = ".imap-keywords"
SUBSCRIPTIONS_FILE = ".imap-subscriptions"

_last_uidvalidity = 0


def new_uidvalidity() -> int:
    """A UIDVALIDITY no earlier mailbox of this name had: the time, strictly increasing."""
    global _last_uidvalidity
    _last_uidvalidity = max(int(time.time()), _last_uidvalidity + 1)
    return _last_uidvalidity


def to_wire(data: bytes) -> bytes:
    """Files have LF line ends; IMAP sends (and counts) CRLF."""
    if b"\r\n" in data:
        data = data.replace(b"\r\n", b"\n")
    return data.replace(b"\n", b"\r\n")


class Msg:
    """One message of a folder: where its file is and what IMAP knows about it."""

    __slots__ = ("uid", "key", "subdir", "name", "flags", "other_letters", "_mtime", "size", "search_cache",
                 "modseq", "changed_by")

    def __init__(self, uid: int, key: str, subdir: str, name: str):
        self.uid, self.key, self.subdir, self.name = uid, key, subdir, name
        self.flags: set[str] = set()
        self.other_letters = ""
        self._mtime: float | None = None
        self.size: int | None = None  # octets in CRLF form, computed on first need
        self.search_cache: dict | None = None  # decoded headers for SEARCH
        self.modseq = self.changed_by = 0  # CONDSTORE: last change's MODSEQ, and the session that made it


class Folder:
    """One mailbox: its Maildir, its UIDs and its messages in UID order."""

    def __init__(self, name: str, path: Path):
        self.name, self.path = name, path
        self._dir = str(path)
        self.by_key: dict[str, Msg] = {}
        self.by_uid: dict[int, Msg] = {}
        self.uids: list[int] = []  # sorted
        self.recent_pool: set[int] = set()
        self.modseq = 1  # HIGHESTMODSEQ (RFC 7162): grows with every change of flags or new message
        self.keywords: list[str] = []
        self._saved: dict[str, int] = {}
        self._stamps: tuple | None = None  # mtimes of new/ and cur/ at the last listing
        self._settled = False
        self.uidvalidity, self.uidnext = 0, 1
        self._load()

    # -- persistent state -----------------------------------------------------
    def _load(self) -> None:
        try:
            lines = (self.path / UIDS_FILE).read_text(encoding="utf-8").splitlines()
            self.uidvalidity = int(lines[0].split()[1])
            self.uidnext = int(lines[1].split()[1])
            for line in lines[2:]:
                uid, _, key = line.partition(" ")
                self._saved[key] = int(uid)
        except (OSError, IndexError, ValueError):
            self.uidvalidity, self.uidnext, self._saved = new_uidvalidity(), 1, {}
            self.save_uids()
        with contextlib.suppress(OSError):  # none yet
            self.keywords = (self.path / KEYWORDS_FILE).read_text(encoding="utf-8").split()
        self._load_modseqs()

    def _load_modseqs(self) -> None:
        """MODSEQ (RFC 7162 CONDSTORE): each change appends "uid modseq" to a journal BEFORE the change
        is made, so a crash can cost an unneeded increase but never a change a client misses. The
        journal is rewritten (atomically) when it has grown well beyond the mailbox."""
        text = ""
        with contextlib.suppress(OSError):  # none yet
            text = (self.path / MODSEQ_FILE).read_text(encoding="utf-8")
        self._saved_modseq: dict[int, int] = {}  # uid -> modseq from the journal
        self._torn = bool(text) and not text.endswith("\n")  # a crash mid-line: start the next one afresh
        lines = text.splitlines()
        for line in lines:
            uid, _, modseq = line.partition(" ")
            try:
                self._saved_modseq[int(uid)] = int(modseq)
            except ValueError:
                continue  # a torn last line after a crash
        self._journal_lines = len(lines)
        self.modseq = max([1, *self._saved_modseq.values()])

    def bump_expunged(self) -> None:
        """An expunge raises HIGHESTMODSEQ too (RFC 7162 3.2: QRESYNC clients resynchronise from it)."""
        self.modseq += 1
        self._journal(f"0 {self.modseq}\n")

    def bump(self, msg: Msg, session_id: int = 0) -> None:
        """Give msg the next MODSEQ, recorded first."""
        self.modseq += 1
        self._journal(f"{msg.uid} {self.modseq}\n")
        msg.modseq, msg.changed_by = self.modseq, session_id

    def _journal(self, text: str) -> None:
        if not self.path.is_dir():
            return
        if self._journal_lines > 4 * len(self.by_uid) + 100:
            lines = [f"0 {self.modseq}"] + [f"{m.uid} {m.modseq}" for m in self.by_uid.values()]
            write_atomically(self.path / MODSEQ_FILE, "\n".join(lines) + "\n" + text)
            self._journal_lines = len(lines) + 1
            return
        with open(self.path / MODSEQ_FILE, "a", encoding="utf-8") as f:
            f.write(("\n" if self._torn else "") + text)
        self._torn = False
        self._journal_lines += 1

    def save_uids(self) -> None:
        if not self.path.is_dir():
            return
        lines = [f"uidvalidity {self.uidvalidity}", f"uidnext {self.uidnext}"]
        lines += [f"{m.uid} {m.key}" for m in (self.by_uid[u] for u in self.uids)]
        write_atomically(self.path / UIDS_FILE, "\n".join(lines) + "\n")

    # -- flags in file names --------------------------------------------------
    def _parse_info(self, msg: Msg, name: str) -> set[str]:
        info = name.partition(COLON)[2]
        letters = info[2:] if info.startswith("2,") else ""
        flags, others = set(), ""
        for letter in letters:
            if letter in LETTER_FLAGS:
                flags.add(LETTER_FLAGS[letter])
            elif "a" <= letter <= "z" and ord(letter) - 97 < len(self.keywords):
                flags.add(self.keywords[ord(letter) - 97])
            else:
                others += letter
        msg.other_letters = others
        return flags

    def _info_for(self, msg: Msg, flags: set[str]) -> str:
        letters = set(msg.other_letters)
        for flag in flags:
            if flag.lower() in FLAG_LETTERS:
                letters.add(FLAG_LETTERS[flag.lower()])
            elif flag in self.keywords:
                letters.add(chr(97 + self.keywords.index(flag)))
        return "2," + "".join(sorted(letters))

    def canonical_flag(self, flag: str, create: bool) -> str | None:
        """The stored spelling of a flag (flags are case-insensitive); adds a new keyword if asked."""
        if flag.lower() in FLAG_LETTERS:
            return LETTER_FLAGS[FLAG_LETTERS[flag.lower()]]
        for keyword in self.keywords:
            if keyword.lower() == flag.lower():
                return keyword
        if not create or flag.startswith("\\") or len(self.keywords) >= MAX_KEYWORDS:
            return None
        self.keywords.append(flag)
        write_atomically(self.path / KEYWORDS_FILE, "\n".join(self.keywords) + "\n")
        return flag

    def adopt_flags(self, flags: set[str]) -> set[str]:
        """Flags from another folder (COPY, MOVE), as spelled here; their keywords become ours."""
        return {f for f in (self.canonical_flag(flag, create=True) for flag in flags) if f is not None}

    def all_flags(self) -> list[str]:
        return list(SYSTEM_FLAGS) + self.keywords

    # -- noticing changes ---------------------------------------------------------
    def scan(self) -> None:
        """List new/ and cur/ and bring the in-memory state up to date (cheap: no file is read). Two stat() calls
        decide whether to list at all: a directory's mtime changes with every file added, removed or renamed in
        it, but its clock is coarse, so a change in the tick of our last listing would go unnoticed: only an mtime
        two seconds older than that listing is trusted (mailbox.Maildir reasons the same way)."""
        try:
            stamps = (os.stat(self.path / "new").st_mtime_ns, os.stat(self.path / "cur").st_mtime_ns)
        except OSError:
            stamps = None
        if stamps is not None and stamps == self._stamps and self._settled:
            return
        listed_at = time.time_ns()
        self._stamps = stamps
        self._settled = stamps is not None and listed_at - max(stamps) > 2_000_000_000
        found: dict[str, tuple[str, str]] = {}
        for sub in ("new", "cur"):
            with contextlib.suppress(OSError), os.scandir(self.path / sub) as entries:
                for entry in entries:
                    if not entry.name.startswith("."):
                        found[entry.name.partition(COLON)[0]] = (sub, entry.name)
        gone = [msg for key, msg in self.by_key.items() if key not in found]  # deleted by POP3, another session
        if gone:
            self.bump_expunged()
        self._drop(gone)
        fresh = []
        for key, (sub, name) in found.items():
            if (msg := self.by_key.get(key)) is None:
                fresh.append((key, sub, name))
            elif msg.name != name or msg.subdir != sub:
                msg.subdir, msg.name = sub, name
                flags = self._parse_info(msg, name)
                if flags != msg.flags:
                    msg.flags = flags
                    self.bump(msg)
        if fresh:
            self._adopt(fresh)
        if gone or fresh:
            self.uids = sorted(self.by_uid)

    def _adopt(self, fresh: list[tuple[str, str, str]]) -> None:
        """Give UIDs to messages seen for the first time: known ones keep theirs, new ones in arrival order."""
        newcomers = []
        for key, sub, name in fresh:
            uid = self._saved.pop(key, None)
            if uid is not None and uid not in self.by_uid and uid < self.uidnext:
                self._add(uid, key, sub, name)
            else:
                try:
                    mtime = os.stat(self.path / sub / name).st_mtime
                except OSError:
                    continue  # gone again already
                newcomers.append((mtime, key, sub, name))
        for mtime, key, sub, name in sorted(newcomers):
            msg = self._add(self.uidnext, key, sub, name)
            msg._mtime = mtime
            self.uidnext += 1
        if newcomers:
            self.uids = sorted(self.by_uid)
            self.save_uids()

    def _add(self, uid: int, key: str, sub: str, name: str) -> Msg:
        msg = Msg(uid, key, sub, name)
        msg.flags = self._parse_info(msg, name)
        self.by_key[key] = self.by_uid[uid] = msg
        self._first_modseq(msg)
        if sub == "new":  # Maildir's "not yet seen by any mail reader"
            self.recent_pool.add(uid)
        return msg

    def _first_modseq(self, msg: Msg) -> None:
        """A message met in a scan: its MODSEQ from the journal, 1 if older than MODSEQs, else the next one."""
        known = self._saved_modseq.get(msg.uid)
        if known is not None:
            msg.modseq = known
        elif msg.uid < self.uidnext:
            msg.modseq = 1  # known before MODSEQs were kept, or unchanged since
        else:
            self.bump(msg)  # new: above every MODSEQ a client has seen

    # -- reading ------------------------------------------------------------------
    def file(self, msg: Msg) -> str:
        """The message's file; a plain string join (pathlib's costs a third of a large FETCH)."""
        return os.path.join(self._dir, msg.subdir, msg.name)

    def read(self, msg: Msg) -> bytes | None:
        """The message in CRLF form, or None if its file is gone (deleted meanwhile)."""
        try:
            with open(self.file(msg), "rb") as f:
                data = to_wire(f.read())
        except OSError:
            return None
        msg.size = len(data)
        return data

    def stored_size(self, msg: Msg) -> int:
        """The size without reading the message: known CRLF size, else the file's (LF) size."""
        if msg.size is not None:
            return msg.size
        try:
            return os.stat(self.file(msg)).st_size
        except OSError:
            return 0

    def size(self, msg: Msg) -> int:
        if msg.size is None:
            self.read(msg)
        return msg.size or 0

    def mtime(self, msg: Msg) -> float:
        """INTERNALDATE: the file's modification time (delivery sets it; APPEND may choose it)."""
        if msg._mtime is None:
            try:
                msg._mtime = os.stat(self.file(msg)).st_mtime
            except OSError:
                msg._mtime = 0.0
        return msg._mtime

    # -- changing -----------------------------------------------------------------
    def set_flags(self, msg: Msg, flags: set[str], session_id: int = 0) -> bool:
        """Rename the file so its info carries the flags; True if anything changed."""
        if flags == msg.flags and msg.subdir == "cur":
            return False
        name = f"{msg.key}{COLON}{self._info_for(msg, flags)}"
        if flags != msg.flags:
            self.bump(msg, session_id)  # before the rename: a crash between them costs nothing
        try:
            os.rename(self.file(msg), self.path / "cur" / name)
        except OSError:
            return False  # deleted meanwhile; the next scan notices
        msg.subdir, msg.name, msg.flags = "cur", name, set(flags)
        return True

    def claim_recent(self) -> set[int]:
        """Hand the recent messages to one session and move them from new/ to cur/."""
        claimed, self.recent_pool = self.recent_pool, set()
        for uid in claimed:
            msg = self.by_uid.get(uid)
            if msg is not None and msg.subdir == "new":
                self.set_flags(msg, msg.flags)
        return claimed

    def add(self, data: bytes, flags: set[str], when: float | None = None, save: bool = True) -> Msg:
        """Store a message (APPEND, COPY): tmp/ then cur/ with its flags, and give it the next UID."""
        when = time.time() if when is None else when
        msg = Msg(self.uidnext, mailstore.new_key(), "cur", "")
        info = self._info_for(msg, flags)
        mailstore.write_message(self.path, msg.key, data, when, info)
        msg.name = f"{msg.key}{COLON}{info}"
        return self._register(msg, flags, when, save)

    def move_in(self, source: "Folder", msg: Msg, save: bool = True) -> Msg:
        """MOVE: rename the file into this folder (atomic, keeps the key) and give it a UID here."""
        flags = self.adopt_flags(msg.flags)
        moved = Msg(self.uidnext, msg.key, "cur", "")
        moved.name = f"{msg.key}{COLON}{self._info_for(moved, flags)}"
        os.rename(source.file(msg), self.path / "cur" / moved.name)
        source.forget(msg)
        return self._register(moved, flags, source.mtime(msg), save)

    def _register(self, msg: Msg, flags: set[str], when: float, save: bool) -> Msg:
        msg.flags, msg._mtime = set(flags), when
        self.bump(msg)
        self.by_key[msg.key] = self.by_uid[msg.uid] = msg
        self.uids.append(msg.uid)
        self.recent_pool.add(msg.uid)
        self.uidnext += 1
        if save:
            self.save_uids()
        return msg

    def forget(self, msg: Msg) -> None:
        self.bump_expunged()
        self._drop([msg])
        if msg.uid in self.uids:
            self.uids.remove(msg.uid)

    def expunge(self, msgs: list[Msg]) -> None:
        """Delete the files of these messages for good."""
        if msgs:
            self.bump_expunged()
        for msg in msgs:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.file(msg))
        self._drop(msgs)
        gone = {m.uid for m in msgs}
        self.uids = [u for u in self.uids if u not in gone]

    def _drop(self, msgs: list[Msg]) -> None:
        """Forget messages whose files are gone (the caller fixes self.uids)."""
        for msg in msgs:
            self.by_key.pop(msg.key, None)
            self.by_uid.pop(msg.uid, None)
            self.recent_pool.discard(msg.uid)


class MailboxError(Exception):
    """A mailbox operation that cannot be done; the text is the NO response's."""


#: Characters a folder name cannot hold on disk (Windows' list, plus the path separators; a "/"
#: in a mailbox name is allowed: it is kept on disk as mailstore.SLASH_ON_DISK).
_BAD_NAME = re.compile(r'[\x00-\x1f\x7f/\\<>:"|?*%]')


#: A folder is one directory ("." + its whole name), and file systems allow 255 bytes in one: this leaves room.
MAX_NAME_BYTES = 200


def valid_name(name: str) -> bool:
    """A folder name that is safe as a Maildir++ directory name (INBOX aside)."""
    return not (not name or _BAD_NAME.search(name.replace("/", "")) or name.startswith(".") or ".." in name
                or name.endswith(".") or name.endswith(" ") or name.startswith("imap-")  # ".imap-..." are ours
                or too_long(name))


def too_long(name: str) -> bool:
    return len(mailstore.folder_file_name(name).encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES


def invalid(name: str) -> MailboxError:
    """The NO for a name valid_name() refuses: [LIMIT] if only its length is wrong (RFC 5530)."""
    if too_long(name):
        return MailboxError(f"[LIMIT] Mailbox name too long (at most {MAX_NAME_BYTES} bytes as stored)")
    return MailboxError("[CANNOT] Invalid mailbox name")


class UserStore:
    """One user's mailboxes: INBOX is the Maildir itself, "A.B" is the Maildir++ folder ".A.B"."""

    def __init__(self, mail_dir: Path, user: str):
        self.user = user
        self.root = mailstore.user_dir(mail_dir, user)
        for sub in ("cur", "new", "tmp"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self._folders: dict[str, Folder] = {}

    def path(self, name: str) -> Path:
        if name == "INBOX":
            return self.root
        if not valid_name(name):  # never let a name like "../bob" leave the user's folder
            raise invalid(name)
        return self.root / mailstore.folder_file_name(name)

    def exists(self, name: str) -> bool:
        return (name == "INBOX" or valid_name(name)) and (self.path(name) / "cur").is_dir()

    def folder(self, name: str) -> Folder | None:
        """The shared Folder object of an existing mailbox, scanned."""
        if not self.exists(name):
            self._folders.pop(name, None)
            return None
        if (folder := self._folders.get(name)) is None:
            folder = self._folders[name] = Folder(name, self.path(name))
        folder.scan()
        return folder

    def names(self) -> list[str]:
        """Every mailbox: INBOX and the folders."""
        with os.scandir(self.root) as entries:
            folders = [mailstore.folder_name(entry.name) for entry in entries if entry.name.startswith(".")
                       and entry.is_dir() and os.path.isdir(os.path.join(entry.path, "cur"))]
        return ["INBOX"] + sorted(folders)

    @staticmethod
    def check_name(name: str) -> str:
        """A name we can keep on disk; a trailing "." (hierarchy delimiter) is dropped."""
        name = name[:-1] if name.endswith(".") else name
        if not valid_name(name):
            raise invalid(name)
        if name.upper() == "INBOX":
            raise MailboxError("[ALREADYEXISTS] INBOX always exists")
        return name

    def create(self, name: str) -> None:
        name = self.check_name(name)
        if self.exists(name):
            raise MailboxError("[ALREADYEXISTS] Mailbox exists")
        for superior in [*superiors(name), name]:  # create superior names too (RFC 3501 6.3.3)
            self._make(superior)

    def _make(self, name: str) -> None:
        final = self.path(name)
        if final.exists():
            return
        staging = self.root / "tmp" / f".imap-new-{os.getpid()}-{time.monotonic_ns()}"
        for sub in ("cur", "new", "tmp"):
            (staging / sub).mkdir(parents=True)
        (staging / "maildirfolder").touch()
        os.rename(staging, final)  # appears complete or not at all

    def delete(self, name: str) -> None:
        if name == "INBOX":
            raise MailboxError("[CANNOT] INBOX cannot be deleted")
        if not self.exists(name):
            raise MailboxError("[NONEXISTENT] No such mailbox")
        trash = self.root / "tmp" / f".imap-deleted-{os.getpid()}-{time.monotonic_ns()}"
        os.rename(self.path(name), trash)  # gone from the listing at once, then removed
        shutil.rmtree(trash, ignore_errors=True)
        self._folders.pop(name, None)

    def rename(self, old: str, new: str) -> None:
        if not self.exists(old):
            raise MailboxError("[NONEXISTENT] No such mailbox")
        new = self.check_name(new)
        if self.exists(new) or (new.upper() == "INBOX"):
            raise MailboxError("[ALREADYEXISTS] Target mailbox exists")
        if old == "INBOX":  # RFC 3501: move INBOX's messages into the new mailbox, INBOX stays
            self.create(new)
            source, target = self.folder("INBOX"), self.folder(new)
            for uid in list(source.uids):
                target.move_in(source, source.by_uid[uid])
            return
        if new == old or new.startswith(old + "."):
            raise MailboxError("[CANNOT] Cannot rename a mailbox into itself")
        for superior in superiors(new):
            self._make(superior)
        moves = [(n, new + n[len(old):]) for n in self.names() if n == old or n.startswith(old + ".")]
        for src, dst in moves:
            os.rename(self.path(src), self.path(dst))
            self._folders.pop(src, None)

    # -- subscriptions ------------------------------------------------------------
    def subscriptions(self) -> list[str]:
        try:
            return (self.root / SUBSCRIPTIONS_FILE).read_text(encoding="utf-8").splitlines()
        except OSError:
            return self.names()  # until the user changes them: subscribed to everything

    def set_subscribed(self, name: str, on: bool) -> None:
        names = [n for n in self.subscriptions() if n != name]
        if on:
            names.append(name)
        write_atomically(self.root / SUBSCRIPTIONS_FILE, "\n".join(sorted(names)) + "\n")
