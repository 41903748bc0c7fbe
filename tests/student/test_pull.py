"""A student's work survives a course update: run and save every chapter, edit a lab, `git pull`.

The chapters run in the student's workspace as JupyterLab runs them (a kernel per notebook, started
in the notebook's folder) and are saved as JupyterLab saves them (nbformat), then a new commit of
the course changes a chapter, a lab and a lab's README. The pull must merge without a conflict,
leave every tracked file as the course has it (so the course's tests pass), keep the student's
work, bring the README update into the untouched copy, and say how to get the new chapter.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import sandbox

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")

LAB = "labs/02_ftp/ftp_lab.py"
CHAPTER = "notebooks/02_ftp.ipynb"
README = "labs/02_ftp/README.md"
STUDENT_LINE = "\n\ndef my_helper():  # the student's own work\n    return 42\n"


def git(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    result = subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.test", *args], cwd=cwd,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"git {' '.join(args)}:\n{result.stdout}{result.stderr}"
    return result


def course(clone: Path, env: dict, *words: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(clone / "course.py"), *words], cwd=clone, env=env,
                          capture_output=True, text=True, timeout=600)


def run_and_save(path: Path, env: dict) -> None:
    """Run a notebook top to bottom in a fresh kernel in its folder and save it, as JupyterLab does."""
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                                     resources={"metadata": {"path": str(path.parent)}})
    client.execute(env=env)  # the kernel gets the student's environment (their servers, their HOME)
    nbformat.write(nb, path)


@pytest.fixture
def clones(tmp_path):
    """The course upstream and a student's clone of it, both from this checkout's HEAD."""
    upstream, student = tmp_path / "upstream", tmp_path / "student"
    git(tmp_path, "clone", "-q", str(sandbox.ROOT), str(upstream))
    git(tmp_path, "clone", "-q", str(upstream), str(student))
    return upstream, student


def test_run_save_edit_pull_keeps_the_work_and_the_course_green(clones, tmp_path):
    upstream, student = clones
    env = sandbox.environment(tmp_path, COURSE_WORKSPACE=str(student / "workspace"))
    workspace = student / "workspace"
    try:
        sync(student, env)  # what start does first: the workspace
        chapters = sorted((workspace / "notebooks").glob("*.ipynb"))
        assert len(chapters) >= 7
        for chapter in chapters:
            run_and_save(chapter, env)
        saved = {chapter.name: chapter.read_bytes() for chapter in chapters}
        lab = workspace / LAB
        lab.write_text(lab.read_text(encoding="utf-8") + STUDENT_LINE, encoding="utf-8")
        assert git(student, "status", "--porcelain").stdout == "", "the student's work shows in git status"

        # the course changes a chapter, a lab and a lab's README upstream
        nb = nbformat.read(upstream / CHAPTER, as_version=4)
        nb.cells.insert(1, nbformat.v4.new_markdown_cell("A new paragraph from the course."))
        nbformat.write(nb, upstream / CHAPTER)
        (upstream / LAB).write_text((upstream / LAB).read_text(encoding="utf-8").replace(
            '"""', '"""Updated by the course. ', 1), encoding="utf-8")
        (upstream / README).write_text((upstream / README).read_text(encoding="utf-8") + "\nA new hint.\n",
                                       encoding="utf-8")
        git(upstream, "commit", "-qam", "a course update")

        pulled = git(student, "pull", "--no-rebase")
        assert "CONFLICT" not in pulled.stdout + pulled.stderr
        assert git(student, "status", "--porcelain").stdout == ""
        for rel in (CHAPTER, LAB, README):
            assert (student / rel).read_bytes() == (upstream / rel).read_bytes()
        assert {c.name: c.read_bytes() for c in chapters} == saved, "the saved chapters changed"
        assert STUDENT_LINE in lab.read_text(encoding="utf-8")

        # the next start: the untouched README follows the course, the student's files are kept and named
        from_sync = sync(student, env)
        assert "A new hint." in (workspace / README).read_text(encoding="utf-8")
        assert f"fresh {CHAPTER}" in from_sync and f"fresh {LAB}" in from_sync
        assert STUDENT_LINE in lab.read_text(encoding="utf-8")

        # a fresh copy of the chapter, the student's run kept as a backup
        fresh = course(student, env, "fresh", CHAPTER)
        assert fresh.returncode == 0, fresh.stdout
        assert "A new paragraph from the course." in (workspace / CHAPTER).read_text(encoding="utf-8")
        [backup] = (workspace / "backups").glob(f"*/{CHAPTER}")
        assert backup.read_bytes() == saved["02_ftp.ipynb"]

        # the course's own checks of its notebooks and labs still pass in the updated clone
        tested = course(student, env, "test", "tests/notebooks/test_notebook_shape.py", "-q", "-p", "no:randomly")
        assert tested.returncode == 0, tested.stdout[-3000:] + tested.stderr[-2000:]
        collected = course(student, env, "test", "--collect-only", "-q")
        assert collected.returncode == 0, collected.stdout[-3000:] + collected.stderr[-2000:]
        assert "workspace" not in collected.stdout, "pytest collects the student's copies"
        assert "notebooks/02_ftp.ipynb::" in collected.stdout
    finally:
        subprocess.run([sys.executable, "-m", "local_servers", "down"], env=env, capture_output=True, timeout=60)


def sync(clone: Path, env: dict) -> str:
    """The workspace step of `course.py start`, without starting JupyterLab."""
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import course; course.Workspace().sync()")
    result = subprocess.run([sys.executable, "-c", code, str(clone)], env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout
