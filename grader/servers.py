"""A grading run's own servers: the services its labs need, started as early as possible.

One set per run (an isolated run cannot reach another, and a shared one
could be damaged). Two things make a set quick to start:

- started early: in an isolated run, grader.isolate starts the set as soon
  as the namespaces exist, while pytest imports itself (STARTED_ENV tells
  the plugin where); elsewhere the plugin starts it before collecting;
- a template (TEMPLATE_ENV, made by run.py, one per batch or kernel): the
  first set keeps its certificates and freshly seeded data folders there,
  later sets copy them instead of making a CA and seeding again (seeding is
  deterministic: the same files every time).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from .labs import LABS, UNITS, lab_of_file

#: The batch grader puts the state directory of a shared, read-only server set here.
SHARED_SERVERS_ENV = "LOCAL_SERVERS_GRADING_SERVERS"
#: A folder of certificates and seeded data that the runs of one batch (or one kernel) share (run.py).
TEMPLATE_ENV = "GRADER_SERVERS_TEMPLATE"
#: "<pid>:<state folder>:<labs>": a set grader.isolate is starting in its child <pid>.
STARTED_ENV = "GRADER_SERVERS_STARTED"
#: The grading servers' own settings: a refused FTP login answers at once (the course's servers wait
#: a second to slow password guessing; a check that tries a wrong password should not wait).
SERVER_OPTIONS = {"ftp_login_delay": 0.0}


def service_names(labs: list[str]) -> list[str]:
    """The services the labs' tests use (one set per run serves both the reading and the writing tests)."""
    from local_servers.serve import SERVICES

    names = []
    for lab in labs or list(LABS):
        for name in (*UNITS[lab].read_only, *UNITS[lab].writable):
            if name not in names and name in SERVICES:
                names.append(name)
    return names or ["echo"]


def labs_of_tests(paths: list[str | Path]) -> list[str] | None:
    """The labs of these test files and folders by their files' names, or None if one is not a lab's."""
    labs = []
    for path in map(Path, paths):
        files = sorted(path.rglob("test_*.py")) if path.is_dir() else [path]
        for file in files:
            lab = lab_of_file(file)
            if lab is None:
                return None
            labs.append(lab)
    return list(dict.fromkeys(labs)) or None


def start(state_dir: Path, names: list[str]):
    """Start a set in state_dir (a new folder), from the template when it has what they need."""
    from local_servers import control

    template = _from_template(state_dir, names)
    handle = control.start(state_dir, ephemeral=True, names=names, options=_options(names))
    _keep(state_dir, template)
    return handle


def _options(names: list[str]) -> dict:
    return {key: value for key, value in SERVER_OPTIONS.items() if key.split("_")[0] in names}


def _from_template(state_dir: Path, names: list[str]) -> dict[str, Path]:
    """Copy what the template has for these services into state_dir; return all it should have."""
    template = _template_items(names)
    for item, source in template.items():
        if source.is_dir():
            shutil.copytree(source, state_dir / item, symlinks=True)
    return template


def _template_items(names: list[str]) -> dict[str, Path]:
    """What the template holds, or will hold, for these services: certificates and data folders."""
    from local_servers import serve

    template = os.environ.get(TEMPLATE_ENV)
    if not template or not os.path.isdir(template):
        return {}
    items = [serve.TLS_DIR, *(f"{serve.DATA_DIR}/{folder}" for folder in serve.data_names(names))]
    return {item: Path(template, item) for item in items}


def _keep(state_dir: Path, template: dict[str, Path]) -> None:
    """Keep what a set just made (before any test changed it) for the next runs; the first one wins."""
    for item, target in template.items():
        if target.exists() or not (state_dir / item).is_dir():
            continue
        target.parent.mkdir(exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".new-", dir=target.parent))
        try:
            shutil.copytree(state_dir / item, staging / "x", symlinks=True)
            os.rename(staging / "x", target)
        except OSError:  # another run kept it first
            pass
        finally:
            shutil.rmtree(staging, ignore_errors=True)


def start_early(root: str, labs: list[str]) -> None:
    """In grader.isolate: fork a child that becomes the run's server process, then go on to exec pytest.

    The child prepares the set's folder (template, or seeding) and serves in
    the same interpreter: no second Python start-up and import of the
    servers. The plugin (pytest is the same process after exec, so the
    child's parent) takes the set once it is ready (take_early); a child
    that failed leaves no set, and the plugin starts one itself.
    """
    state_dir = tempfile.mkdtemp(prefix="grading-servers-", dir=root)
    child = os.fork()
    if child == 0:
        code = 1
        try:
            os.closerange(3, 4096)  # not the report pipe: its reader waits for every writer to close it
            code = _serve_here(Path(state_dir), service_names(labs))
        except BaseException:  # noqa: B036: whatever happens, this child never returns into isolate
            import traceback

            traceback.print_exc()
        finally:
            os._exit(code)
    os.environ[STARTED_ENV] = f"{child}:{state_dir}:{','.join(labs)}"


def _serve_here(state_dir: Path, names: list[str]) -> int:
    """What `python -m local_servers serve` does, in this process, after keeping the template."""
    from local_servers import config, serve, tls
    from local_servers.config import StateDir

    template = _from_template(state_dir, names)
    serve.seed_missing(state_dir, names)
    tls.ensure_certificates(StateDir(state_dir).tls)
    _keep(state_dir, template)  # before any test can change the data
    return serve.main(state_dir, config.DEFAULT_HOST, config.ports(ephemeral=True), names=names,
                      options=_options(names))


def take_early(names: list[str]):
    """The set grader.isolate started, once it is ready, if it serves these services: (folder, handle)."""
    import time

    from local_servers import control

    value = os.environ.pop(STARTED_ENV, "")
    try:
        pid, state_dir, labs = value.split(":", 2)
        pid, state_dir = int(pid), Path(state_dir)
    except ValueError:
        return None
    deadline = time.monotonic() + control.START_TIMEOUT
    while True:
        handle = control.find(state_dir)
        if handle is not None:
            break
        try:
            ended = os.waitpid(pid, os.WNOHANG)[0] == pid
        except ChildProcessError:
            ended = True
        if ended:
            return None
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            return None
        time.sleep(0.01)
    if not set(names) <= set(service_names(labs.split(","))):
        control.stop(state_dir)
        return None
    return state_dir, handle
