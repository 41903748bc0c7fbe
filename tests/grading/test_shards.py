"""A batch cut into shards and merged again is the batch (issue 10, "Grading a large class").

The realistic submissions (tests/grading/submissions/) are graded once whole and once in 3 shards; the
merged CSV must equal the whole batch's byte for byte. The CSV has no timing column; the JSON beside it
has one (`seconds`, how long each submission took, which differs from run to run), so the JSONs are
compared without it. The labs/README.md examples (a Slurm array job, a Kubernetes Indexed Job, GNU
parallel) are run as printed on a small set, with only their folders and host names replaced by this
machine's, and must merge to that small set's whole batch. The merge refuses shards that do not add up to
one batch, and a bad --shard is a one-line error.
"""

from __future__ import annotations

import csv
import json
import os
import random
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import realistic
from grader import shards
from grader.__main__ import arguments

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "labs" / "README.md"
SMALL = ("ana_threads", "lee_redirects", "nia_mime")  # three labs, from three students
TIMEOUT = 900


def grader(*args, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "grader", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, env=env, timeout=TIMEOUT)


def ok(done: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert done.returncode == 0, f"exit {done.returncode}:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done


def shell(script: str, cwd: Path, **env) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    return ok(subprocess.run(["bash", "-c", script], cwd=cwd, capture_output=True, text=True, env=environment,
                             timeout=TIMEOUT))


def without_seconds(path: Path) -> dict:
    document = json.loads(path.read_text(encoding="utf-8"))
    for row in document["rows"]:
        row.pop("seconds")
    return document


def students(path: Path) -> list[str]:
    with path.open(encoding="utf-8") as handle:
        return [row["student"] for row in csv.DictReader(handle) if not row["student"].startswith("(")]


# --- the realistic set: whole and in 3 shards --------------------------------------------------------

@pytest.fixture(scope="module")
def whole(tmp_path_factory):
    """(submissions, the whole batch's CSV)."""
    folder = tmp_path_factory.mktemp("whole")
    submissions = realistic.materialize(folder / "submissions")
    ok(grader("batch", submissions, "--out", folder / "grades.csv", "--jobs", 4))
    return submissions, folder / "grades.csv"


@pytest.fixture(scope="module")
def three_shards(whole, tmp_path_factory):
    submissions, _ = whole
    folder = tmp_path_factory.mktemp("shards")
    for k in (1, 2, 3):
        ok(grader("batch", submissions, "--out", folder / f"grades-{k}.csv", "--shard", f"{k}/3", "--jobs", 4))
    return [folder / f"grades-{k}.csv" for k in (1, 2, 3)]


@pytest.mark.timeout(TIMEOUT)
def test_three_shards_merge_to_the_whole_batch_byte_for_byte(whole, three_shards, tmp_path):
    submissions, whole_csv = whole
    names = sorted(p.name for p in submissions.iterdir())
    slices = [students(path) for path in three_shards]
    assert sorted(sum(slices, [])) == names, "every submission in exactly one shard"
    assert max(map(len, slices)) - min(map(len, slices)) <= 1, f"unbalanced: {[len(s) for s in slices]}"
    merged = tmp_path / "merged.csv"
    ok(grader("merge", merged, *reversed(three_shards)))  # any order
    assert merged.read_bytes() == whole_csv.read_bytes()
    assert without_seconds(merged.with_suffix(".json")) == without_seconds(whole_csv.with_suffix(".json"))


@pytest.mark.timeout(TIMEOUT)
def test_a_shard_is_its_slice_with_a_shard_row_and_its_reports(whole, three_shards):
    submissions, _ = whole
    names = [p.name for p in submissions.iterdir()]
    second = three_shards[1]
    with second.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["student"] for row in rows[:2]] == ["(maximum)", "(shard)"]
    note = dict(item.split("=", 1) for item in rows[1]["note"].split())
    assert note["shard"] == "2/3" and note["submissions"] == str(len(names)) and note["labs"] == "all"
    assert students(second) == shards.Shard(2, 3).select(names)
    for name in students(second):
        assert (second.with_name("grades-2-reports") / f"{name}.json").is_file()


def test_slices_are_dealt_by_code_point_order_balanced_and_disjoint():
    names = ["bob", "Amy", "cat", "dan", "Émile", "_late", "zoë", "Zed", "amy", "0001"]
    assert shards.Shard(1, 2).select(["bob", "Amy", "cat", "dan"]) == ["Amy", "cat"]  # Amy < bob < cat < dan
    for count in range(1, 13):
        slices = [shards.Shard(k, count).select(names) for k in range(1, count + 1)]
        assert sorted(sum(slices, [])) == sorted(names)
        assert max(map(len, slices)) - min(map(len, slices)) <= 1
        shuffled = names[:]
        random.Random(count).shuffle(shuffled)
        assert [shards.Shard(k, count).select(shuffled) for k in range(1, count + 1)] == slices


@pytest.mark.parametrize("value, says", [("0/3", "numbered from 1"), ("4/3", "between 1 and N=3"),
                                         ("1/0", "at least 1"), ("two/3", "wants K/N"), ("3", "wants K/N"),
                                         ("2-8", "wants K/N")])
def test_a_bad_shard_is_a_one_line_error(tmp_path, value, says):
    (tmp_path / "subs" / "someone" / "01_sockets").mkdir(parents=True)
    done = grader("batch", "subs", "--out", "grades.csv", f"--shard={value}", cwd=tmp_path)
    assert done.returncode == 2
    last = done.stderr.strip().splitlines()[-1]
    assert "--shard" in last and says in last, done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "grades.csv").exists()


# --- the README's examples, run as printed on a small set -------------------------------------------

def section() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("## Grading a large class (shards)")
    end = text.find("\n## ", start + 3)
    return text[start:] if end < 0 else text[start:end]


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", section(), flags=re.DOTALL)


def block(language: str, containing: str) -> str:
    found = [text for text in blocks(language) if containing in text]
    assert len(found) == 1, f"one ```{language} block with {containing!r} in labs/README.md, found {len(found)}"
    return found[0]


def venv_python(text: str) -> str:
    """The README runs the course's .venv/bin/python; a run of this suite from another environment uses its own."""
    if (ROOT / ".venv" / "bin" / "python").exists():
        return text
    return re.sub(r"(?:\S*/)?\.venv/bin/python", sys.executable, text)


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """Three submissions, and their whole batch's CSV."""
    folder = tmp_path_factory.mktemp("small")
    everyone = realistic.materialize(folder / "all")
    for name in SMALL:
        shutil.copytree(everyone / name, folder / "submissions" / name)
    ok(grader("batch", folder / "submissions", "--out", folder / "grades.csv", "--jobs", 3))
    return folder / "submissions", folder / "grades.csv"


@pytest.fixture(scope="module")
def slurm(small, tmp_path_factory):
    """The Slurm example run as Slurm would run it: the script once per array index, then the merge."""
    submissions, _ = small
    job = block("bash", "#SBATCH --array=1-")
    count = int(re.search(r"--array=1-(\d+)", job)[1])
    assert re.search(rf"^N={count}$", job, re.MULTILINE), "N in the script is the N of --array=1-N"
    class_dir = tmp_path_factory.mktemp("slurm-class")
    shutil.copytree(submissions, class_dir / "submissions")
    script = class_dir / "grade-shards.sbatch"
    script.write_text(venv_python(job.replace("/shared/course", str(ROOT)).replace("/shared/class", str(class_dir))),
                      encoding="utf-8")
    for task in range(1, count + 1):
        shell(f"bash {shlex.quote(str(script))}", cwd=class_dir, SLURM_ARRAY_TASK_ID=str(task))
    submit = block("bash", "sbatch --parsable")
    wrapped = shlex.split(re.search(r"--wrap (.*)$", submit, re.MULTILINE)[1])[0]
    chdir = re.search(r"--chdir=(\S+)", submit)[1]
    assert chdir == "/shared/course"
    shell(venv_python(wrapped.replace("/shared/class", str(class_dir))), cwd=ROOT)
    return class_dir, count


@pytest.mark.timeout(TIMEOUT)
def test_readme_slurm_array_job_merges_to_the_whole_batch(small, slurm):
    class_dir, count = slurm
    assert count >= 2
    assert (class_dir / "grades.csv").read_bytes() == small[1].read_bytes()
    assert len(list((class_dir / "shards").glob("grades-*.csv"))) == count


@pytest.mark.timeout(TIMEOUT)
def test_readme_kubernetes_indexed_job_merges_to_the_whole_batch(small, tmp_path):
    yaml = pytest.importorskip("yaml")
    job = yaml.safe_load(block("yaml", "completionMode: Indexed"))
    spec = job["spec"]
    assert job["kind"] == "Job" and spec["completionMode"] == "Indexed"
    container = spec["template"]["spec"]["containers"][0]
    assert [m["mountPath"] for m in container["volumeMounts"]] == ["/class"]
    command = container["command"]
    assert command[:2] == ["sh", "-c"]
    assert f"/{spec['completions']}" in command[2], "the N of --shard is the Job's completions"
    shutil.copytree(small[0], tmp_path / "submissions")

    def here(text: str) -> str:
        return venv_python(text.replace("/course", str(ROOT)).replace("/class", str(tmp_path)))

    for index in range(spec["completions"]):  # what each pod runs, JOB_COMPLETION_INDEX from 0
        ok(subprocess.run(["sh", "-c", here(command[2])], cwd=tmp_path, capture_output=True, text=True,
                          timeout=TIMEOUT, env={**os.environ, "JOB_COMPLETION_INDEX": str(index)}))
    merge_job = yaml.safe_load(block("yaml", "name: merge-grades"))
    merge_command = merge_job["spec"]["template"]["spec"]["containers"][0]["command"]
    assert merge_command[:2] == ["sh", "-c"]
    ok(subprocess.run(["sh", "-c", here(merge_command[2])], cwd=tmp_path, capture_output=True, text=True,
                      timeout=TIMEOUT))
    assert (tmp_path / "grades.csv").read_bytes() == small[1].read_bytes()
    assert "kubectl wait --for=condition=complete job/grade-shards" in block("bash", "kubectl apply")


@pytest.mark.timeout(TIMEOUT)
@pytest.mark.skipif(not shutil.which("parallel"), reason="GNU parallel is not installed (Debian: parallel)")
def test_readme_gnu_parallel_merges_to_the_whole_batch(small, tmp_path):
    """Run as printed with the hosts replaced by ':' (this machine): the grading hosts' folders are then the
    same as yours, so --return has nothing to bring back (parallel says so) and the shards are in place."""
    commands = block("bash", "parallel -S")
    home = tmp_path / "home"
    shutil.copytree(small[0], home / "grading" / "submissions")
    script = re.sub(r"-S \S+", "-S :", commands)
    # the course by its real path: an isolated run puts a fresh /tmp over the student's view, so a Python
    # reached through a link in /tmp would vanish
    script = script.replace("~/course", str(ROOT)).replace("/srv/course", str(ROOT))
    script = script.replace("/srv/grading", str(home / "grading"))
    shell(venv_python(script), cwd=home, HOME=str(home))
    assert (home / "grading" / "grades.csv").read_bytes() == small[1].read_bytes()


def test_every_grader_command_in_the_section_parses():
    """Each documented batch/merge command, its shell variables filled in, is accepted by the command line."""
    yaml = pytest.importorskip("yaml")
    texts = blocks("bash") + [b for b in blocks("") if "-m grader" in b]
    for document in blocks("yaml"):
        texts.append(yaml.safe_load(document)["spec"]["template"]["spec"]["containers"][0]["command"][2])
    fill = {r"\$\(\(JOB_COMPLETION_INDEX \+ 1\)\)": "1", r"\$SLURM_ARRAY_TASK_ID": "1", r"\$N\b": "8",
            r"\$CLASS": "/class", r"\{\}": "1", r"\bK/N\b": "1/8", r"\bK\b": "1"}
    found = []
    for text in texts:
        for match in re.finditer(r"-m grader ((?:batch|merge)\b[^\n'&]*)", text):
            command = match[1]
            for pattern, value in fill.items():
                command = re.sub(pattern, value, command)
            argv = shlex.split(command.split("#")[0])
            arguments().parse_args(argv)  # SystemExit (a usage error) fails the test
            found.append(argv[0])
    assert found.count("batch") >= 4 and found.count("merge") >= 4, found


# --- merge refuses what is not one batch -------------------------------------------------------------

def refused(out: Path, csvs, says: str) -> None:
    """merge exits 2 with one line saying why, and writes nothing (an existing OUT stays as it was)."""
    before = out.read_bytes() if out.exists() else None
    done = grader("merge", out, *csvs)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.startswith("error: ") and done.stderr.strip().count("\n") == 0, done.stderr
    assert says in done.stderr, done.stderr
    assert (out.read_bytes() if out.exists() else None) == before
    assert before is not None or not out.with_suffix(".json").exists()


@pytest.mark.timeout(TIMEOUT)
def test_merge_refuses_shards_that_are_not_one_batch(small, slurm, tmp_path):
    class_dir, count = slurm
    submissions = class_dir / "submissions"
    good = [class_dir / "shards" / f"grades-{k}.csv" for k in range(1, count + 1)]
    out = tmp_path / "merged.csv"
    last = f"{count}/{count}"

    refused(out, good[:-1], f"missing shard(s) {last}")
    twin = tmp_path / "twin.csv"
    shutil.copyfile(good[1], twin)
    refused(out, [*good, twin], f"both shard 2/{count}")

    def empty_shard(name: str, *options, folder: Path = submissions) -> Path:
        """The last shard of a set too small to fill it: it grades nothing, so it is quick to make."""
        path = tmp_path / f"{name}.csv"
        ok(grader("batch", folder, "--out", path, *options))
        assert students(path) == []
        return path

    other_n = empty_shard("other-n", "--shard", f"{count + 1}/{count + 1}")
    refused(out, [*good[:-1], other_n], "shards of different splits")
    (tmp_path / "fewer" / SMALL[0]).mkdir(parents=True)
    other_set = empty_shard("other-set", "--shard", last, folder=tmp_path / "fewer")
    refused(out, [*good[:-1], other_set], "shards of different submission sets")
    other_labs = empty_shard("other-labs", "--shard", last, "--labs", "sockets,ftp")
    refused(out, [*good[:-1], other_labs], "shards of different lab sets")
    hidden = tmp_path / "hidden"
    hidden.mkdir()
    (hidden / "test_sockets_hidden.py").write_text("def test_nothing():\n    pass\n", encoding="utf-8")
    other_tests = empty_shard("other-tests", "--shard", last, "--hidden-tests", hidden)
    refused(out, [*good[:-1], other_tests], "shards graded by different tests")

    cut = tmp_path / "cut.csv"
    lines = good[0].read_text(encoding="utf-8").splitlines(keepends=True)
    assert len(lines) == 4, "shard 1 of the small set: header, (maximum), (shard), one student"
    cut.write_text("".join(lines[:-1]), encoding="utf-8")
    refused(out, [cut, *good[1:]], "a shard's CSV was edited or cut short")
    refused(out, [small[1], *good[1:]], "is not a shard's CSV")
    refused(good[0], good, "is one of the shards")
    refused(out, [tmp_path / "nowhere.csv", *good[1:]], "no shard CSV at")
    ok(grader("merge", out, *good))  # and the good ones still merge
    assert out.read_bytes() == small[1].read_bytes()


@pytest.mark.timeout(TIMEOUT)
def test_csvs_alone_merge_and_say_the_details_are_missing(small, slurm, tmp_path):
    """Shards whose JSONs stayed behind still merge to the same CSV; no half JSON is written, and it says so."""
    class_dir, count = slurm
    for k in range(1, count + 1):
        shutil.copyfile(class_dir / "shards" / f"grades-{k}.csv", tmp_path / f"grades-{k}.csv")
    (tmp_path / "grades.json").write_text("{}", encoding="utf-8")  # a stale one from an earlier merge
    done = ok(grader("merge", "grades.csv", *(f"grades-{k}.csv" for k in range(1, count + 1)), cwd=tmp_path))
    assert (tmp_path / "grades.csv").read_bytes() == small[1].read_bytes()
    assert not (tmp_path / "grades.json").exists()
    assert "no details JSON written" in done.stdout and "grades-1.json" in done.stdout
