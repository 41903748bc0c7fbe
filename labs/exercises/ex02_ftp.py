"""Your answers to the exercises of notebooks/02_ftp.ipynb (chapter 2, "Exercises").

Write each function here (replace the `raise NotImplementedError`), try it
in the chapter's notebook, then check it from a notebook cell:

    from grader import check
    check("ex02")

which grades this file (in workspace/labs/ when the course made you that
copy, else in labs/) like a lab: a table of checks with a hint for each one
that failed. Every function takes the server's address as a (host, port)
tuple: the checks give it servers of their own. The reference answers are
in solutions/exercises/ex02_ftp.py (try first!).
"""

from __future__ import annotations

import ftplib  # noqa: F401  (you will need it)


def mirror(address: tuple[str, int], remote_dir: str, local_dir, user: str = "anonymous",
           password: str = "") -> list[str]:
    """Exercise 1: download every file under remote_dir (subfolders too) into local_dir.

    Returns the sorted relative paths downloaded, with "/" between folders (e.g. "rfc/reply-codes.txt").
    """
    raise NotImplementedError("TODO: exercise 1")


def resume_download(address: tuple[str, int], remote_path: str, local_path, user: str = "anonymous",
                    password: str = "") -> int:
    """Exercise 2: continue a download from where the local file ends; return the number of bytes fetched."""
    raise NotImplementedError("TODO: exercise 2")


def upload_tree(address: tuple[str, int], user: str, password: str, local_dir, remote_dir: str) -> list[str]:
    """Exercise 3: recreate local_dir's tree under remote_dir; return the sorted remote paths of the files."""
    raise NotImplementedError("TODO: exercise 3")


def gbk_texts(address: tuple[str, int], folder: str) -> dict[str, str]:
    """Exercise 4: {file name: text} of a folder whose file names and texts are GBK."""
    raise NotImplementedError("TODO: exercise 4")
