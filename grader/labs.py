"""The six labs: where each one's module lives and which servers its tests need.

One table shared by the pytest plugin, check() and the batch grader, so a
lab is added or renamed in one place. Paths are relative to a labs folder
(the course's labs/, solutions/, or a student's submission folder).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Lab:
    name: str  # the short name: check("ftp"), the CSV column, the pytest marker
    folder: str  # its folder inside a labs folder
    module: str  # the student's module in that folder
    title: str
    read_only: tuple[str, ...] = ()  # services whose seeded data the tests only read (shared set)
    writable: tuple[str, ...] = ()  # services the tests change (a set of their own per run)

    def path(self, labs_dir: Path) -> Path:
        return Path(labs_dir) / self.folder / self.module


LABS: dict[str, Lab] = {lab.name: lab for lab in (
    Lab("sockets", "01_sockets", "sockets_lab.py", "TCP and UDP timestamp servers and clients", ("time",)),
    Lab("ftp", "02_ftp", "ftp_lab.py", "A robust FTP client: download, mirror, resume, upload", ("ftp",), ("ftp",)),
    Lab("nntp", "03_nntp", "nntp_lab.py", "Reading and following up on news", ("nntp",), ("nntp",)),
    Lab("smtp", "04_smtp", "smtp_lab.py", "A multipart message to several recipients", (), ("smtp",)),
    # POP3 locks a mailbox per session, so even reading tests get this run's own servers.
    Lab("mail", "05_mail", "mail_lab.py", "POP3 and IMAP: report, round trip, move", (), ("smtp", "pop3", "imap")),
    Lab("http", "06_http", "http_lab.py", "A JSON API client and a server handler of your own", ("http",)),
)}


#: The chapters' exercises, checked like labs (check("ex02")) but never part of a lab grade: the answers
#: live in the labs folder's exercises/ (labs/exercises/ holds the starters), their checks in
#: tests/exercises/checks/. An exercise without checks yet is not listed.
EXERCISES: dict[str, Lab] = {unit.name: unit for unit in (
    Lab("ex01", "exercises", "ex01_sockets.py", "Chapter 1's exercises: framing, UDP retries, a selectors server",
        ("time", "echo")),
    Lab("ex02", "exercises", "ex02_ftp.py", "Chapter 2's exercises: mirror, resume, upload a tree, GBK", ("ftp",),
        ("ftp",)),
    Lab("ex03", "exercises", "ex03_nntp.py", "Chapter 3's exercises: threads, decoded articles, NNTPS posting",
        ("nntp",), ("nntp",)),
    Lab("ex04", "exercises", "ex04_email_smtp.py", "Chapter 4's exercises: SMTP commands, a newsletter, SMTPS",
        (), ("smtp",)),
    Lab("ex05", "exercises", "ex05_pop3_imap.py", "Chapter 5's exercises: new mail, searches, IDLE, charsets",
        (), ("smtp", "pop3", "imap")),
    Lab("ex06", "exercises", "ex06_http.py", "Chapter 6's exercises: statuses, links, servers, uploads, robots",
        ("http",)),
    # The appendix's checks switch the run's mail servers to a provider's profile (it reseeds the mail store).
    Lab("ex07", "exercises", "ex07_real_providers.py", "The appendix's exercises: app passwords, XOAUTH2, ID",
        (), ("smtp", "imap", "http")),
)}

#: Everything check() can grade.
UNITS: dict[str, Lab] = {**LABS, **EXERCISES}


def lab_of_file(path: str | Path) -> str | None:
    """The lab a test file belongs to by its name: test_ftp.py, test_ftp_hidden.py -> "ftp"."""
    stem = Path(path).stem
    if stem.startswith("test_"):
        stem = stem[5:]
    for name in UNITS:
        if stem == name or stem.startswith(name + "_"):
            return name
    return None
