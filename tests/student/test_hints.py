"""Every command the course tells a student to run works as typed.

The messages are found in the source (every string that is not a docstring, in the files whose
messages a student sees: course.py, the conftests, local_servers, the grader), plus the messages
made at run time (course.py's answers, the port-conflict error, the notebooks' skip reason).
Each command is then run as typed, in the course's folder, by a shell whose `python3`/`python`
is a bare Python with nothing installed (a fresh machine), against a sandbox (fresh HOME, servers'
state and workspace in a temporary folder, this run's .venv as the course's environment).
It fails on "No module named", "command not found", "unknown command" and usage errors.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import venv
from pathlib import Path

import pytest

import sandbox

ROOT = sandbox.ROOT
SOURCES = ["course.py", "conftest.py", "tests/conftest.py", "local_servers/**/*.py", "grader/**/*.py"]
#: A command: optional VAR=value words, then python3/python/py with course.py or -m module, then words
#: up to the end of the line, a backtick, two spaces (a column), " (", " or ", a comma or a full stop.
COMMAND = re.compile(r"(?:\b[A-Z_]+=\S+\s+)*(?:\.venv/bin/)?\b(?:python3?|py) (?:\S*course\.py|-m [\w.]+)"
                     r"(?:(?! or | \(|  | to | for )[^`\n,;|])*")
FAILURES = re.compile(r"No module named|command not found|not found: |unknown command|^usage: |error: argument"
                      r"|error: unrecognized|invalid choice|Traceback", re.MULTILINE)
#: Formatters whose call in an f-string gives a course.py command (course.py's me(), conftest's).
COURSE_FORMATTERS = {"me", "course_command"}


def _text(node: ast.AST) -> str | None:
    """A string constant or an f-string, with course.py commands filled in and other values as {}."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if not isinstance(node, ast.JoinedStr):
        return None
    parts = []
    for value in node.values:
        if isinstance(value, ast.Constant):
            parts.append(str(value.value))
        elif (isinstance(value, ast.FormattedValue) and isinstance(value.value, ast.Call)
              and getattr(value.value.func, "id", None) in COURSE_FORMATTERS and value.value.args
              and isinstance(value.value.args[0], ast.Constant)):
            parts.append(f"`python3 course.py {value.value.args[0].value}`")
        else:
            parts.append("{}")
    return "".join(parts)


def static_messages() -> list[tuple[str, str]]:
    """(where, text) of every non-docstring string in the sources, and of course.py's help (printed)."""
    found = []
    for pattern in SOURCES:
        for path in sorted(ROOT.glob(pattern)):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                          if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                          and node.body and isinstance(node.body[0], ast.Expr)}
            if path.name == "course.py":
                docstrings.clear()  # its docstring is the help it prints
            for node in ast.walk(tree):
                if isinstance(node, ast.keyword) and node.arg == "prog":
                    docstrings.add(id(node.value))  # argparse's name of the running program, not advice
                if isinstance(node, ast.JoinedStr):
                    for value in node.values:  # its parts are not messages of their own
                        docstrings.add(id(value))
            for node in ast.walk(tree):
                text = _text(node) if id(node) not in docstrings else None
                if text:
                    found.append((f"{path.relative_to(ROOT)}:{node.lineno}", text))
    return found


def runtime_messages(env: dict) -> list[tuple[str, str]]:
    """Messages made at run time: course.py's answers to mistakes, and the servers' port-conflict error."""
    found = []
    for words in (["help"], ["nonsense"], ["fresh"], ["fresh", "nonsense"], ["check"]):
        result = subprocess.run([sys.executable, str(sandbox.COURSE), *words], cwd=ROOT, env=env,
                                capture_output=True, text=True, timeout=120)
        found.append((f"course.py {' '.join(words)}", result.stdout + result.stderr))
    bare = {**env, "COURSE_VENV": str(Path(env["HOME"]) / "no-venv-yet")}
    for words in (["status"], ["stop"]):
        result = subprocess.run([sys.executable, str(sandbox.COURSE), *words], cwd=ROOT, env=bare,
                                capture_output=True, text=True, timeout=60)
        found.append((f"course.py {' '.join(words)} (not set up)", result.stdout + result.stderr))
    from local_servers.service import PortInUseError

    found.append(("PortInUseError", str(PortInUseError("ftp", "127.0.0.1", 10021, "address in use"))))
    spec = importlib.util.spec_from_file_location("course_root_conftest", ROOT / "conftest.py")
    root_conftest = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(root_conftest)
    found.append(("conftest skip reason", f"stop them with `{root_conftest.course_command('stop')}`"))
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def as_typed(command: str, tmp: Path) -> str | None:
    """The command with its placeholders filled in; None for the Windows spelling (py) or an f-string."""
    if "{}" in command or command.split()[0] == "py" or re.search(r"\bpy course\.py", command):
        return None
    command = re.sub(r"\[[^\]]*\]?", "", command)  # optional parts: [SERVICE ...], [ARGS], [-f]
    fill = {"LAB": "ftp", "SERVICE": "ftp", "PATH": "notebooks/02_ftp.ipynb", "NNNNN": str(_free_port()),
            "SUBMISSIONS": str(tmp / "submissions"), "ARGS": "", "...": ""}
    for placeholder, value in fill.items():
        command = re.sub(rf"(?<![\w/]){re.escape(placeholder)}(?![\w/])", value, command)
    # a port setting moves one service; the sandbox keeps every other one off the default ports too
    command = re.sub(r"LOCAL_SERVERS_PORTS=(\S+)", lambda m: f"LOCAL_SERVERS_PORTS={sandbox.FREE_PORTS},{m[1]}",
                     command)
    return re.sub(r"[.:]+$", "", " ".join(command.split()))


def commands(env: dict, tmp: Path) -> dict[str, list[str]]:
    """Each command as typed -> where it is printed."""
    found: dict[str, list[str]] = {}
    for where, text in static_messages() + runtime_messages(env):
        for match in COMMAND.finditer(text):
            typed = as_typed(match.group(0), tmp)
            if typed:
                found.setdefault(typed, []).append(where)
    return found


@pytest.fixture(scope="module")
def shell_env(tmp_path_factory):
    """A sandbox whose python3 and python are a bare Python: a fresh machine's, nothing installed."""
    tmp = tmp_path_factory.mktemp("hints")
    bare = tmp / "bare-python"
    venv.EnvBuilder(with_pip=False, symlinks=True).create(bare)
    bin_dir = tmp / "bin"
    bin_dir.mkdir()
    for name in ("python3", "python"):
        (bin_dir / name).symlink_to(bare / "bin" / "python")
    venv_bin = str(Path(sys.prefix) / "bin")
    path = [str(bin_dir)] + [p for p in os.environ.get("PATH", "").split(os.pathsep)
                             if p and Path(p).resolve() != Path(venv_bin).resolve() and "pyenv" not in p]
    env = sandbox.environment(tmp, PATH=os.pathsep.join(path), BROWSER="true")  # no browser to open
    (tmp / "submissions").mkdir()
    yield env, tmp
    subprocess.run([sys.executable, str(sandbox.COURSE), "stop"], env=env, capture_output=True, timeout=60)


#: Output that shows a long-running command (start) has done its job: it is then stopped with Ctrl-C.
SETTLED = re.compile(r"JupyterLab is running|JupyterLab is already running")


def run_as_typed(command: str, env: dict, limit: float = 120) -> str:
    """Run in a shell in the course's folder; `start` is stopped with Ctrl-C once JupyterLab runs."""
    argv = shlex.split(command)
    if argv[-1:] == ["test"]:
        command += " tests/notebooks/test_notebook_shape.py -q"  # the whole suite is another test's job
    process = subprocess.Popen(command, shell=True, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, start_new_session=True)
    output, deadline = b"", time.monotonic() + limit
    os.set_blocking(process.stdout.fileno(), False)
    while process.poll() is None and time.monotonic() < deadline and not SETTLED.search(output.decode()):
        output += process.stdout.read() or b""
        time.sleep(0.2)
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    os.set_blocking(process.stdout.fileno(), True)
    output += process.stdout.read() or b""
    return output.decode(errors="replace")


@pytest.mark.timeout(900)
def test_every_printed_command_works_as_typed(shell_env):
    env, tmp = shell_env
    found = commands(env, tmp)
    # the hints this test exists for are among those found
    assert "python3 course.py stop" in found
    assert any(c.startswith("LOCAL_SERVERS_PORTS=") and c.endswith("course.py start") for c in found)
    assert any(c.startswith(".venv/bin/python -m local_servers up --port ftp=") for c in found)
    failed = []
    for command, where in sorted(found.items()):
        if command.endswith("logs -f"):
            command = command[:-3]  # follows the log until Ctrl-C; the command is the same
        output = run_as_typed(command, env)
        if FAILURES.search(output):
            failed.append(f"{command}  (printed by {', '.join(sorted(set(where))[:3])}):\n"
                          + "\n".join(output.strip().splitlines()[-6:]))
    assert not failed, "commands that fail as typed:\n\n" + "\n\n".join(failed)
