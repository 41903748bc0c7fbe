#!/usr/bin/env python3
"""The course's one command: it needs nothing but Python 3.10+ and runs everything in the course's own
environment (.venv), so you never have to know where that is.

    python3 course.py start        set up .venv if needed, start the servers, open JupyterLab
    python3 course.py stop         stop JupyterLab and the servers
    python3 course.py status       are the servers and JupyterLab running, and where?
    python3 course.py reset [SERVICE ...]   give the servers their seeded data back (all, or e.g. ftp)
    python3 course.py logs [-f]    the servers' log
    python3 course.py check LAB    grade one lab of yours (sockets, ftp, nntp, smtp, mail, http)
    python3 course.py fresh PATH   a fresh copy of one chapter or lab (yours is kept in workspace/backups/)
    python3 course.py test [ARGS]  the course's test suite (extra words go to pytest)
    python3 course.py book         build the course's website (English and Chinese) into _build/site

Your work lives in workspace/ (your copies of the chapters, labs and solutions, made on the first start and
never overwritten), so `git pull` brings course updates without touching it. See
docs/decisions/0007-student-workspace.md. Windows: type `py course.py ...` instead of `python3 course.py ...`.
Add --lang zh to any command for its messages in Simplified Chinese (a zh locale does the same); README.zh-CN.md.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
MIN_PYTHON = (3, 10)
START_NOTEBOOK = "notebooks/00_start_here.ipynb"
#: The Chinese edition's start page (built from the English by python -m i18n), opened under --lang zh.
START_NOTEBOOK_ZH = "notebooks/zh/00_start_here.ipynb"
#: What the workspace copies from the course: the chapters, the labs and the reference solutions.
COPIED = ("notebooks", "labs", "solutions")
SKIPPED = ("__pycache__", ".ipynb_checkpoints")
#: The graders' command-line module; `grader` once it is a package of its own.
GRADER = "grader"  # the grader package beside local_servers (python -m grader check LAB)
#: Jupyter settings of the course (no news pop-up), added to Jupyter's own search path.
JUPYTER_CONFIG = ROOT / "jupyter-config"
LAB_STOP_TIMEOUT = 20.0
#: The help (the docstring above) in Simplified Chinese, for --lang zh or a zh locale.
HELP_ZH = """课程的统一命令：只需要 Python 3.10 或更新的版本，一切都在课程自己的环境（.venv）中运行，
你不必知道它在哪里。

    python3 course.py start        需要时设置 .venv，启动服务器，打开 JupyterLab
    python3 course.py stop         停止 JupyterLab 和服务器
    python3 course.py status       服务器和 JupyterLab 是否在运行，在哪里运行？
    python3 course.py reset [SERVICE ...]   恢复服务器的初始数据（全部，或者例如 ftp）
    python3 course.py logs [-f]    服务器的日志
    python3 course.py check LAB    给你的一个实验评分（sockets、ftp、nntp、smtp、mail、http）
    python3 course.py fresh PATH   重新复制一章或一个实验（你的副本保存在 workspace/backups/ 中）
    python3 course.py test [ARGS]  课程的测试套件（其余参数交给 pytest）

你的作业放在 workspace/ 中（第一次启动时复制的各章、实验和参考答案的副本，之后从不覆盖），
所以 `git pull` 取得课程更新时不会动到它们。参见 docs/decisions/0007-student-workspace.md。
Windows 上请输入 `py course.py ...`，而不是 `python3 course.py ...`。
任何命令加上 --lang en 即显示英文信息；说明见 README.zh-CN.md。
"""


def me(words: str = "") -> str:
    """How to run this script with other words, as the student typed it (works as typed in their shell)."""
    python = "py" if os.name == "nt" else "python3"
    script = sys.argv[0] if sys.argv and sys.argv[0].endswith(".py") else "course.py"
    return f"`{python} {script} {words}`".replace(" `", "`")


def say(text: str, zh: str | None = None) -> None:
    """Print a line for the student: its Chinese (zh, written beside the English) under --lang zh or a zh locale."""
    print(zh if zh is not None and LANGUAGE == "zh" else text, flush=True)


def language(lang: str | None = None) -> str:
    """"zh" or "en": --lang if given, else COURSE_LANG, else the locale (LC_ALL, LC_MESSAGES, LANG, in POSIX order).

    The same rule as grader/i18n.py (not imported: this script runs before the course is installed).
    """
    chosen = lang or os.environ.get("COURSE_LANG", "")
    if not chosen:
        chosen = next((os.environ[name] for name in ("LC_ALL", "LC_MESSAGES", "LANG") if os.environ.get(name)), "")
    return "zh" if chosen.lower().replace("-", "_").startswith("zh") else "en"


def take_lang(argv: list[str]) -> tuple[str | None, list[str]]:
    """--lang zh / --lang=zh anywhere on the line: (the language asked for, the other words)."""
    rest, lang, words = [], None, iter(argv)
    for word in words:
        if word == "--lang":
            lang = next(words, "")
        elif word.startswith("--lang="):
            lang = word.split("=", 1)[1]
        else:
            rest.append(word)
    return lang, rest


LANGUAGE = language()


# --- the environment ---------------------------------------------------------------------------------

def venv_dir() -> Path:
    return Path(os.environ.get("COURSE_VENV", ROOT / ".venv")).resolve()


def venv_python(env: Path | None = None) -> Path:
    env = env or venv_dir()
    return env / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _run_quiet(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kwargs)


def uv_tools(env: Path) -> Path:
    """Where course.py keeps the uv it fetched: inside the environment, so it goes with it."""
    return env / "course-tools"


def _uv_in(folder: Path) -> list[str] | None:
    for candidate in (folder / "bin" / "uv", folder / "bin" / "uv.exe", folder / "Scripts" / "uv.exe"):
        if candidate.exists():
            return [str(candidate)]
    return None


def _uv(env: Path) -> list[str] | None:
    """A uv to install with: on PATH, fetched before, or fetched now with this Python's pip (about 5 s)."""
    if os.environ.get("COURSE_INSTALLER", "auto") == "pip":
        return None
    found = shutil.which("uv") or _uv_in(uv_tools(env))
    if found:
        return found if isinstance(found, list) else [found]
    say("      getting uv, a fast installer, from PyPI (pip install uv) ...",
        "      正在从 PyPI 获取快速安装工具 uv（pip install uv）……")
    pip_python = Path(sys.executable)
    if _run_quiet([str(pip_python), "-m", "pip", "--version"]).returncode != 0:
        pip_python = venv_python(env)  # a Python without pip (Debian's): the environment's pip, then
        _ensure_pip(pip_python)
    got = _run_quiet([str(pip_python), "-m", "pip", "install", "--disable-pip-version-check", "--quiet",
                      "--no-warn-script-location", "--target", str(uv_tools(env)), "uv"])
    if got.returncode == 0 and _uv_in(uv_tools(env)):
        return _uv_in(uv_tools(env))
    why = " ".join(got.stdout.strip().splitlines()[-2:])
    say("      uv could not be had; pip will do (slower). " + why, "      无法获取 uv，改用 pip（较慢）。" + why)
    return None


def _ensure_pip(python: Path) -> None:
    if _run_quiet([str(python), "-m", "pip", "--version"]).returncode != 0:
        subprocess.run([str(python), "-m", "ensurepip", "--upgrade", "--default-pip"], check=True,
                       stdout=subprocess.DEVNULL)


def _pip_install(python: Path, target: str) -> None:
    _ensure_pip(python)
    subprocess.run([str(python), "-m", "pip", "install", "--disable-pip-version-check", "--progress-bar", "on",
                    "--editable", target], check=True)


def ensure_environment() -> Path:
    """Make the virtual environment and install the course into it, once (again if pyproject.toml changes).

    With uv (on PATH, or fetched by pip into the environment) a first install takes seconds; pip, the
    fallback, takes a minute or more (bench/README.md). The environment is made without pip, which
    saves ensurepip's 5-10 s; pip is added only if it is the installer.
    """
    env = venv_dir()
    python = venv_python(env)
    stamp = env / ".course-installed"
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if python.exists() and stamp.exists() and stamp.read_text().strip() == wanted:
        return python
    started = time.monotonic()
    if not python.exists():
        say(f"[1/3] Creating the course's Python environment in {env} ...", f"[1/3] 正在 {env} 中创建课程的 Python 环境……")
        venv.EnvBuilder(with_pip=False).create(env)
    else:
        say(f"[1/3] The course's Python environment is in {env}", f"[1/3] 课程的 Python 环境位于 {env}")
    say("[2/3] Choosing an installer ...", "[2/3] 正在选择安装工具……")
    uv = _uv(env)
    target = f"{ROOT}[course,test]"
    if uv:
        say("[3/3] Installing the course and its dependencies with uv (seconds) ...",
            "[3/3] 正在用 uv 安装课程及其依赖（只需几秒）……")
        command = [*uv, "pip", "install", "--quiet", "--compile-bytecode", "--python", str(python),
                   "--editable", target]
        if subprocess.run(command).returncode != 0:
            say("uv failed (message above); trying again with pip ...", "uv 安装失败（信息见上文）；改用 pip 重试……")
            uv = None
    if not uv:
        say("[3/3] Installing the course and its dependencies with pip (a minute or more) ...",
            "[3/3] 正在用 pip 安装课程及其依赖（需要一分钟或更久）……")
        _pip_install(python, target)
    stamp.write_text(wanted)
    seconds = f"{time.monotonic() - started:.0f}"
    say(f"The course's environment is ready ({seconds} s).", f"课程环境已准备就绪（用时 {seconds} 秒）。")
    return python


def installed_python() -> Path | None:
    python = venv_python()
    return python if python.exists() else None


# --- the workspace: the student's own copies --------------------------------------------------------

def workspace_dir() -> Path:
    return Path(os.environ.get("COURSE_WORKSPACE", ROOT / "workspace")).resolve()


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def course_files() -> list[str]:
    """The files the workspace copies, as paths relative to the course (with forward slashes)."""
    files = []
    for top in COPIED:
        for path in sorted((ROOT / top).rglob("*")):
            if path.is_file() and not any(part in SKIPPED for part in path.parts) and path.suffix != ".pyc":
                files.append(path.relative_to(ROOT).as_posix())
    return files


class Workspace:
    """workspace/: copies the student works in. A copy the student changed is never overwritten.

    .course-manifest.json remembers, for each copy, the digest of the course's file it was copied from. So a
    later start can tell a course update (the course's file changed) from the student's work (the copy
    changed): an untouched copy follows the course; a changed one is kept, and the student is told how
    to get the new version.
    """

    def __init__(self, root: Path | None = None):
        self.root = root or workspace_dir()
        self.manifest_file = self.root / ".course-manifest.json"

    def _load(self) -> dict:
        try:
            return json.loads(self.manifest_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    def _save(self, manifest: dict) -> None:
        self.manifest_file.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8")

    def _copy(self, rel: str, manifest: dict) -> None:
        target = self.root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / rel, target)
        manifest[rel] = _digest(ROOT / rel)

    def sync(self) -> list[str]:
        """Copy what is new or missing, follow course updates of untouched copies; return what was kept."""
        first = not self.root.exists()
        self.root.mkdir(parents=True, exist_ok=True)
        manifest = self._load()
        kept, copied, updated = [], 0, 0
        for rel in course_files():
            target, source_digest = self.root / rel, _digest(ROOT / rel)
            if not target.exists():
                self._copy(rel, manifest)
                copied += 1
            elif rel not in manifest:
                manifest[rel] = source_digest  # a copy from before the manifest: the student's from now on
            elif manifest[rel] != source_digest:  # the course changed this file since it was copied
                if _digest(target) == manifest[rel]:
                    self._copy(rel, manifest)  # untouched by the student: take the new version
                    updated += 1
                else:
                    kept.append(rel)
        self._save(manifest)
        if first:
            say(f"Your workspace is {self.root}: your own copies of the chapters, labs and solutions.",
                f"你的工作区是 {self.root}：其中是你自己的各章、实验和参考答案的副本。")
        elif copied or updated:
            say(f"Workspace: {copied} new file(s) copied, {updated} updated from the course.",
                f"工作区：复制了 {copied} 个新文件，按课程更新了 {updated} 个文件。")
        for rel in kept:
            say(f"The course updated {rel}; your copy has your changes and is kept. "
                f"For the new version: {me('fresh ' + rel)}",
                f"课程更新了 {rel}；你的副本有你的修改，已保留。要取得新版本：{me('fresh ' + rel)}")
        return kept

    def fresh(self, name: str) -> list[str]:
        """A fresh copy of one chapter, lab or file; the student's copy moves to backups/<time>/."""
        rel = Path(name.replace("\\", "/")).as_posix().strip("/")
        for prefix in ("workspace/", "./"):
            rel = rel[len(prefix):] if rel.startswith(prefix) else rel
        wanted = [f for f in course_files() if f == rel or f.startswith(rel + "/")
                  or (Path(f).stem == rel and f.startswith("notebooks/"))]
        if not wanted:
            raise LookupError(f"{name!r} is not a chapter, lab or file of the course. For example: "
                              f"{me('fresh notebooks/02_ftp.ipynb')} or {me('fresh labs/02_ftp')}"
                              if LANGUAGE != "zh" else
                              f"{name!r} 不是课程中的章节、实验或文件。例如：{me('fresh notebooks/02_ftp.ipynb')} "
                              f"或 {me('fresh labs/02_ftp')}")
        self.root.mkdir(parents=True, exist_ok=True)
        manifest = self._load()
        backup = self.root / "backups" / time.strftime("%Y-%m-%d_%H%M%S")
        for rel in wanted:
            target = self.root / rel
            if target.exists() and _digest(target) != _digest(ROOT / rel):
                (backup / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.move(str(target), backup / rel)
                kept_as = (backup / rel).relative_to(self.root.parent)
                say(f"your {rel} is kept as {kept_as}", f"你的 {rel} 已保存为 {kept_as}")
            self._copy(rel, manifest)
        self._save(manifest)
        return wanted


# --- JupyterLab ---------------------------------------------------------------------------------------

_RUNNING_LABS = """
import json, sys
from jupyter_core.paths import jupyter_runtime_dir
from jupyter_server.serverapp import list_running_servers
root = sys.argv[1]
labs = [s for s in list_running_servers() if s.get("root_dir") == root]
print(json.dumps({"runtime_dir": jupyter_runtime_dir(), "labs": labs}))
"""
#: A Unix socket's path holds at most 107 bytes; a kernel's are <runtime dir>/kernel-<uuid>-ipc-<n>.
IPC_RUNTIME_DIR_MAX = 107 - len("/kernel-12345678-1234-1234-1234-123456789012-ipc-99999")


def jupyter_runtime(python: Path, root: Path) -> tuple[str, list[dict]]:
    """Jupyter's runtime folder, and the JupyterLabs serving this workspace (stale runtime files go)."""
    found = _run_quiet([str(python), "-c", _RUNNING_LABS, str(root)])
    try:
        document = json.loads(found.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return "", []
    return document["runtime_dir"], [lab for lab in document["labs"] if _answers(lab)]


def running_labs(python: Path, root: Path) -> list[dict]:
    return jupyter_runtime(python, root)[1]


def _answers(lab: dict) -> bool:
    try:
        with urllib.request.urlopen(f"{lab['url'].rstrip('/')}/api/status?token={lab.get('token', '')}",
                                    timeout=5) as reply:
            return reply.status == 200
    except OSError:
        return False


def start_notebook() -> str:
    """The page JupyterLab opens: the Chinese edition's under --lang zh (or a zh locale), else the English."""
    return START_NOTEBOOK_ZH if LANGUAGE == "zh" and (ROOT / START_NOTEBOOK_ZH).exists() else START_NOTEBOOK


def lab_url(lab: dict) -> str:
    url = f"{lab['url'].rstrip('/')}/lab/tree/{start_notebook()}"
    return f"{url}?token={lab['token']}" if lab.get("token") else url


def lab_command(python: Path, root: Path, extra: list[str], runtime_dir: str) -> list[str]:
    command = [str(python), "-m", "jupyterlab", start_notebook(), f"--ServerApp.root_dir={root}",
               "--ServerApp.answer_yes=True",  # never "Shut down this Jupyter server (y/[n])?"
               "--ServerApp.log_level=WARN", "--LabApp.log_level=WARN"]
    if os.name == "posix" and len(runtime_dir.encode()) <= IPC_RUNTIME_DIR_MAX:
        # Kernels talk to JupyterLab over Unix sockets in the user's own runtime folder, not over TCP on
        # 127.0.0.1: no other user of the machine can reach them, and they do not warn about plain TCP.
        command.append("--KernelManager.transport=ipc")
    else:
        say("Note: each kernel will warn \"Kernel is running over TCP without encryption\". Its connections go "
            "over 127.0.0.1 only, never over a network, and need the kernel's secret key; on a machine "
            "shared with other users they could watch them. (The course uses Unix sockets instead where "
            "it can: not on Windows, nor when Jupyter's runtime folder has a path this long.)",
            "注意：每个内核都会警告“Kernel is running over TCP without encryption”。它的连接只经过 127.0.0.1，"
            "从不经过网络，而且需要内核的密钥；但在与他人共用的机器上，其他用户可能看到这些连接。（在可以的"
            "地方，课程改用 Unix 套接字：Windows 上不行，Jupyter 运行时文件夹的路径这么长时也不行。）")
    if hasattr(os, "geteuid") and os.geteuid() == 0 and "--allow-root" not in extra:
        command.append("--allow-root")  # containers often run as root, and JupyterLab refuses it otherwise
    return command + extra


#: JupyterLab's own interface in Chinese: the language pack (in the [course] extra) and its locale.
LAB_LOCALE = {"@jupyterlab/translation-extension:plugin": {"locale": "zh_CN"}}


def lab_language(root: Path) -> list[str]:
    """Under --lang zh, JupyterLab's menus and dialogs in Chinese, for this workspace only.

    The locale goes into settings overrides of the workspace's own (workspace/.jupyterlab-zh/settings/
    overrides.json, given to this Lab as its app_settings_dir): the default of this Lab, not a change of the
    student's user settings, so another JupyterLab (or an English start) stays as it was, and a language the
    student picks in Settings > Language still wins.
    """
    if LANGUAGE != "zh":
        return []
    settings = root / ".jupyterlab-zh" / "settings"
    settings.mkdir(parents=True, exist_ok=True)
    (settings / "overrides.json").write_text(json.dumps(LAB_LOCALE, indent=1) + "\n", encoding="utf-8")
    return [f"--LabApp.app_settings_dir={settings}"]


def lab_environment() -> dict:
    paths = [str(JUPYTER_CONFIG), *filter(None, os.environ.get("JUPYTER_CONFIG_PATH", "").split(os.pathsep))]
    return {**os.environ, "JUPYTER_CONFIG_PATH": os.pathsep.join(paths)}


def wait_for_lab(runtime_dir: str, process: subprocess.Popen, timeout: float = 120) -> dict | None:
    """Our JupyterLab's runtime file (jpserver-<pid>.json), once the Lab answers."""
    info_file = Path(runtime_dir) / f"jpserver-{process.pid}.json"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            lab = json.loads(info_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            lab = None
        if lab and _answers(lab):
            return lab
        time.sleep(0.2)
    return None


def stop_lab(process: subprocess.Popen, lab: dict | None) -> None:
    """Stop our JupyterLab as its own shutdown button does: kernels stopped, runtime files removed."""
    if process.poll() is None and not (lab and shutdown_lab(lab)):
        process.terminate()  # SIGTERM: Jupyter cleans up the same way
    try:
        process.wait(LAB_STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def shutdown_lab(lab: dict) -> bool:
    """Ask a running JupyterLab (not ours to signal) to shut down, through its API."""
    request = urllib.request.Request(f"{lab['url'].rstrip('/')}/api/shutdown", method="POST",
                                     headers={"Authorization": f"token {lab.get('token', '')}"})
    try:
        urllib.request.urlopen(request, timeout=10).close()
    except OSError:
        return False
    return True


# --- the commands ----------------------------------------------------------------------------------------

def _stop_on(*signals) -> None:
    """Turn these signals into KeyboardInterrupt, so they stop JupyterLab as Ctrl-C does."""
    def interrupt(signum, frame):
        raise KeyboardInterrupt
    for signum in filter(None, signals):
        signal.signal(signum, interrupt)


def servers(python: Path, *words: str) -> int:
    return subprocess.call([str(python), "-m", "local_servers", *words])


def start(python: Path, extra: list[str]) -> int:
    root = workspace_dir()
    Workspace(root).sync()
    up = _run_quiet([str(python), "-m", "local_servers", "up"])
    print(up.stdout, end="", flush=True)
    if up.returncode != 0:
        return up.returncode
    already = "already running" in up.stdout
    runtime_dir, labs = jupyter_runtime(python, root)
    if labs:
        say(f"JupyterLab is already running (pid {labs[0]['pid']}). Open:\n\n    {lab_url(labs[0])}\n",
            f"JupyterLab 已经在运行（pid {labs[0]['pid']}）。请打开：\n\n    {lab_url(labs[0])}\n")
        return 0
    say("Starting JupyterLab ...", "正在启动 JupyterLab……")
    # Its own session (process group on Windows): Ctrl-C reaches only this script, which then stops
    # JupyterLab through its API, so it never asks "Shut down this Jupyter server (y/[n])?" and never
    # dies half way, leaving kernels and runtime files behind.
    popen_kwargs = ({"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP} if os.name == "nt"
                    else {"start_new_session": True})
    # A token of our own: Jupyter then prints no URL of its own (one that lands on the Launcher).
    env = {**lab_environment(), "JUPYTER_TOKEN": os.environ.get("JUPYTER_TOKEN") or secrets.token_hex(24)}
    command = lab_command(python, root, lab_language(root) + extra, runtime_dir)
    process = subprocess.Popen(command, cwd=root, env=env, **popen_kwargs)
    lab = None
    # Ctrl-C even when started from a script in the background (which starts us with SIGINT ignored),
    # and a closed terminal or a kill: each stops the Lab the same way.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    _stop_on(signal.SIGTERM, getattr(signal, "SIGHUP", None))
    try:
        lab = wait_for_lab(runtime_dir, process)
        if lab is None:
            say("JupyterLab did not start (see its messages above).", "JupyterLab 未能启动（信息见上文）。")
            stop_lab(process, None)
            return 1
        say(f"JupyterLab is running on your workspace. Open (if no browser opened):\n\n    {lab_url(lab)}\n\n"
            f"Ctrl-C here stops it{'' if already else ' and the servers'}. From another terminal: "
            f"{me('stop')} stops both, {me('status')} shows where they are.",
            f"JupyterLab 正在你的工作区上运行。请打开（如果没有自动打开浏览器）：\n\n    {lab_url(lab)}\n\n"
            f"在这里按 Ctrl-C 即可停止它{'' if already else '和服务器'}。在另一个终端中："
            f"{me('stop')} 停止两者，{me('status')} 显示它们在哪里运行。")
        process.wait()
    except KeyboardInterrupt:
        say("\nStopping JupyterLab ...", "\n正在停止 JupyterLab……")
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not leave it half stopped
        stop_lab(process, lab)
        say("JupyterLab stopped.", "JupyterLab 已停止。")
    if not already:
        servers(python, "down")
    return 0


def stop(python: Path | None) -> int:
    if python is None:
        say("Nothing to stop: the course is not set up yet.", "没有需要停止的：课程尚未设置。")
        return 0
    for lab in running_labs(python, workspace_dir()):
        if shutdown_lab(lab):
            say(f"JupyterLab stopped (pid {lab['pid']})", f"JupyterLab 已停止（pid {lab['pid']}）")
    return servers(python, "down")


def status(python: Path | None) -> int:
    if python is None:
        say(f"The course is not set up yet: {me('start')} sets it up and starts it.",
            f"课程尚未设置：{me('start')} 会设置并启动它。")
        return 3
    code = servers(python, "status")
    if code == 0:  # which port block (several students on one machine each have their own)
        subprocess.call([str(python), "-m", "local_servers.ports"], cwd=ROOT)
        subprocess.call([str(python), "-m", "local_servers", "inspect"], cwd=ROOT, stderr=subprocess.DEVNULL)
    labs = running_labs(python, workspace_dir())
    if labs:
        say(f"JupyterLab: {lab_url(labs[0])}")
    else:
        say("JupyterLab: not running", "JupyterLab：未运行")
    return code


def check(python: Path, rest: list[str]) -> int:
    if not rest or rest[0].startswith("-"):
        say(f"Which lab? For example: {me('check ftp')} (labs: sockets, ftp, nntp, smtp, mail, http)",
            f"检查哪个实验？例如：{me('check ftp')}（实验有：sockets、ftp、nntp、smtp、mail、http）")
        return 2
    labs = workspace_dir() / "labs"
    where = ["--labs-dir", str(labs)] if labs.is_dir() and "--labs-dir" not in rest else []
    return subprocess.call([str(python), "-m", GRADER, "check", *rest, *where])


def book(python: Path, rest: list[str]) -> int:
    """The course's website (python -m book): Sphinx and MyST-NB, the [book] extra, are installed on first use."""
    if _run_quiet([str(python), "-c", "import sphinx, myst_nb, jieba"]).returncode != 0:
        say("Installing the website's tools (Sphinx, MyST-NB, jieba) into the course's environment ...")
        target, uv = f"{ROOT}[course,test,book]", _uv(venv_dir())
        if not uv or subprocess.run([*uv, "pip", "install", "--quiet", "--python", str(python),
                                     "--editable", target]).returncode != 0:
            _pip_install(python, target)
    return subprocess.call([str(python), "-m", "book", *rest])


COMMANDS = ("start", "stop", "status", "reset", "logs", "check", "fresh", "test", "book", "help")


def main(argv: list[str]) -> int:
    global LANGUAGE
    lang, argv = take_lang(argv)
    if lang:  # and for what this starts: the servers' and grader's commands, JupyterLab's kernels (check())
        os.environ["COURSE_LANG"] = lang
    LANGUAGE = language(lang)
    if sys.version_info < MIN_PYTHON:
        wanted, this = ".".join(map(str, MIN_PYTHON)), sys.version.split()[0]
        say(f"The course needs Python {wanted} or newer; this is {this}.",
            f"本课程需要 Python {wanted} 或更新的版本；当前是 {this}。")
        return 2
    command, rest = (argv[0], argv[1:]) if argv else ("help", [])
    if command in ("help", "-h", "--help"):
        say(__doc__, HELP_ZH)
        return 0
    if command not in COMMANDS:
        say(f"course.py: unknown command {command!r}. The commands are: {', '.join(COMMANDS)}.\n{__doc__}",
            f"course.py：没有 {command!r} 这个命令。可用的命令有：{'、'.join(COMMANDS)}。\n{HELP_ZH}")
        return 2
    if command == "fresh":
        if len(rest) != 1:
            say(f"Which one? For example: {me('fresh notebooks/02_ftp.ipynb')} or {me('fresh labs/02_ftp')}",
                f"要哪一个？例如：{me('fresh notebooks/02_ftp.ipynb')} 或 {me('fresh labs/02_ftp')}")
            return 2
        try:
            Workspace().fresh(rest[0])
        except LookupError as exc:
            say(str(exc))
            return 2
        say(f"fresh copy of {rest[0]} made in {workspace_dir()}", f"已在 {workspace_dir()} 中重新复制了 {rest[0]}")
        return 0
    if command == "stop":
        return stop(installed_python())
    if command == "status":
        return status(installed_python())
    try:
        python = ensure_environment()
    except subprocess.CalledProcessError as exc:
        say(f"Setting up the environment failed ({exc}). Fix the error above and run {me(command)} again.",
            f"环境设置失败（{exc}）。请先解决上面的错误，再运行一次 {me(command)}。")
        return 1
    os.chdir(ROOT)
    if command == "test":
        # The suite checks the English texts (the Chinese ones by tests that ask for them): a zh locale
        # must not turn check()'s words Chinese under it.
        env = {**os.environ, "COURSE_LANG": os.environ.get("COURSE_LANG") or "en"}
        return subprocess.call([str(python), "-m", "pytest", *rest], env=env)
    if command == "reset":
        return servers(python, "reset", *rest)
    if command == "logs":
        return servers(python, "logs", *rest)
    if command == "check":
        return check(python, rest)
    if command == "book":
        return book(python, rest)
    return start(python, rest)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
