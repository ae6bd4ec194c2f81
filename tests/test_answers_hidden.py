"""A student release gives away no answer: attacked the way a curious student would (import
every shipped module and call anything key-like; hash every option with every string of the
release; look for the answers in clear and in common encodings), none of the six answers
comes out. The same answers come out of the instructor's grading (tests/test_release.py and
the Gradescope bundle below)."""

from __future__ import annotations

import base64
import codecs
import hashlib
import itertools
import json
import os
import pickle
import re
import shutil
import subprocess
import sys
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from submissions import PROJECT_ROOT, make_submission

from hw3 import catalogue
from hw3.authoring import release

COURSE = catalogue.load()
ANSWERS = {q.key: q.answer for q in COURSE.questions}  # the instructor's catalogue
KEY_LIKE = re.compile(r"key|answer|secret|digest|solution|expected|correct|option", re.IGNORECASE)
HEX64 = re.compile(rb"[0-9a-f]{64}")


@pytest.fixture(scope="module")
def released(tmp_path_factory) -> Path:
    return release.release(PROJECT_ROOT, tmp_path_factory.mktemp("release") / "student-repo")


def files_of(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


# What the student's own probing script runs inside the release: every module imported, every
# key-like function called with no argument, with the shipped key, and with each question.
PROBE = r"""
import importlib, inspect, json, pathlib, sys, re
sys.path.insert(0, ".")
KEY_LIKE = re.compile(r"key|answer|secret|digest|solution|expected|correct|option", re.I)
out = []
from hw3 import catalogue
from hw3.grading import answer_key
course = catalogue.load()
key = answer_key.load("checks/flows/key.json")
out += [str(key.answer_option(q)) for q in course.questions]
out += [str(q.answer) for q in course.questions]
for path in sorted(pathlib.Path(".").rglob("*.py")):
    if path.parts[0] not in ("hw3", "checks") or path.name.startswith("test_") or path.name == "conftest.py":
        continue
    name = ".".join(path.with_suffix("").parts)
    try:
        module = importlib.import_module(name)
    except BaseException as exc:
        continue
    for attr, obj in vars(module).items():
        if not KEY_LIKE.search(attr) or not callable(obj) or getattr(obj, "__module__", None) != module.__name__:
            continue
        for args in ((), (key,), ("checks/flows/key.json",), *((q,) for q in course.questions), *((q.key,) for q in course.questions)):
            try:
                out.append(repr(obj(*args)))
            except BaseException:
                pass
    for attr, obj in vars(module).items():
        if KEY_LIKE.search(attr) and not callable(obj):
            out.append(repr(obj))
print(json.dumps(out))
"""


def found_by_calling(folder: Path) -> set[str]:
    """The answers (question keys) that the probing script gets out of the release."""
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=folder, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(folder)})
    assert done.returncode == 0, done.stderr[-3000:]
    outputs = json.loads(done.stdout.splitlines()[-1])
    found = {q.key for q, text in zip(COURSE.questions, outputs) if text == q.answer}
    for text in outputs:
        found |= {qkey for qkey, answer in ANSWERS.items() if re.search(rf"{qkey}\W+{re.escape(answer)}", text)}
    return found


def found_by_hashing(folder: Path) -> set[str]:
    """The answers whose digest (an option hashed with any string of the release) is in it."""
    files = files_of(folder)
    digests = {d.decode() for data in files.values() for d in HEX64.findall(data)}
    strings = {s.decode("utf-8", "replace") for data in files.values() for s in re.findall(rb"[\w.-]{6,}", data)}
    found = set()
    for question, string in itertools.product(COURSE.questions, strings):
        for option in question.options:
            for text in ("\x1f".join((string, "answer", question.key, option)), string + option, option + string,
                         f"{string}{question.key}{option}", option):
                if hashlib.sha256(text.encode()).hexdigest() in digests:
                    found.add(question.key)
    return found


def test_importing_and_calling_everything_key_like_gives_no_answer(released):
    assert found_by_calling(released) == set()


def test_hashing_every_option_with_every_string_of_the_release_matches_no_digest(released):
    assert found_by_hashing(released) == set()


def test_the_attacks_find_every_answer_in_a_release_that_ships_the_hashed_key(released, tmp_path):
    """The attacks can fail: a release with the old salted-digest key gives all six away."""
    from hw3.grading import answer_key

    leaky = shutil.copytree(released, tmp_path / "leaky")
    answer_key.build_from_reference(PROJECT_ROOT).save(leaky / "checks" / "flows" / "key.json")
    assert found_by_calling(leaky) == found_by_hashing(leaky) == set(ANSWERS)


def encodings(answer: str) -> list[bytes]:
    plain = answer.encode()
    forms = [base64.b64encode(plain), plain.hex().encode(), codecs.encode(answer, "rot13").encode(),
             base64.b32encode(plain), base64.b85encode(plain)]
    forms += [pickle.dumps(answer, protocol=p) for p in range(2, 6)]
    return [f for f in forms if f != plain and len(answer) >= 5]  # a short answer ("3") is in any file, encoded


def test_no_answer_in_clear_or_encoded_in_any_file(released):
    for name, data in files_of(released).items():
        for qkey, answer in ANSWERS.items():
            for form in encodings(answer):
                assert form not in data, f"{name} holds {qkey}'s answer encoded"
            text = data.decode("utf-8", "replace")
            assert not re.search(rf"\b{qkey}\b\W{{1,5}}{re.escape(answer)}\W", text), f"{name} maps {qkey} to its answer"
            assert not re.search(rf"answer\W{{1,5}}{re.escape(answer)}\W", text), f"{name} names {qkey}'s answer"


# -- the Gradescope bundle: the instructor's side, with the key -------------------------------------


def run_autograder(bundle: Path, root: Path, submission: Path) -> dict:
    """Unpack the bundle into a root laid out like Gradescope's and grade one submission."""
    with zipfile.ZipFile(bundle) as archive:
        archive.extractall(root / "source")
    shutil.copytree(submission, root / "submission", symlinks=True)  # an upload's links stay links
    (root / "results").mkdir()
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "AUTOGRADER_PYTHON": sys.executable}
    env = {k: v for k, v in env.items() if not k.startswith(("HW3_DATA", "HW3_MODELS"))}
    done = subprocess.run(["bash", str(root / "source" / "run_autograder")], env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return json.loads((root / "results" / "results.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("gradescope")
    done = subprocess.run([sys.executable, "-m", "hw3.cli", "release", "--gradescope", str(folder / "autograder.zip")],
                          cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return folder / "autograder.zip"


def test_the_bundle_holds_the_scripts_the_package_and_the_key_but_no_solution(bundle):
    names = zipfile.ZipFile(bundle).namelist()
    assert {"setup.sh", "run_autograder", "key.json", "pyproject.toml", "checks/conftest.py", "hw3/cli.py"} <= set(names)
    assert not any(n.startswith(("solutions/", "tests/")) or "__pycache__" in n for n in names)
    assert zipfile.ZipFile(bundle).getinfo("run_autograder").external_attr >> 16 & 0o111


def upload(kind: str, folder: Path) -> Path:
    """What a student uploads: the reference, the stubs, a broken homework.py, or no homework."""
    if kind == "reference":
        return make_submission(folder)
    if kind == "stubs":
        return make_submission(folder, source=PROJECT_ROOT / "homework")
    if kind == "broken":
        return make_submission(folder, {"homework.py": [("@flow\ndef main(", "@flow\ndef main(:")]})
    folder.mkdir()
    (folder / "notes.txt").write_text("forgot the files")
    return folder


@pytest.fixture(scope="module")
def autograded(bundle, tmp_path_factory) -> dict[str, dict]:
    """results.json of each kind of upload, graded two at a time, each in its own root."""
    folder = tmp_path_factory.mktemp("autograder-roots")
    kinds = ("reference", "stubs", "broken", "empty")
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {k: pool.submit(run_autograder, bundle, folder / k, upload(k, folder / f"upload-{k}")) for k in kinds}
    return {k: f.result() for k, f in futures.items()}


@pytest.mark.slow
def test_gradescope_gives_the_reference_full_marks(autograded):
    results = autograded["reference"]
    assert results["score"] == COURSE.max_score == sum(t["score"] for t in results["tests"])


@pytest.mark.slow
def test_gradescope_gives_the_stubs_zero(autograded):
    results = autograded["stubs"]
    assert results["score"] == 0 and all(t["output"].startswith("not attempted") for t in results["tests"])


@pytest.mark.slow
def test_gradescope_gives_a_broken_submission_its_reasons(autograded):
    results = autograded["broken"]
    scores = {t["name"].split()[0]: t["score"] for t in results["tests"]}
    assert scores["Q5"] == 1 and scores["Q6"] == 1 and results["score"] < COURSE.max_score
    assert any("SyntaxError" in t["output"] and "homework.py, line" in t["output"] for t in results["tests"])
    assert "site-packages" not in json.dumps(results) and "probe.py" not in json.dumps(results)


@pytest.mark.slow
def test_gradescope_says_what_is_missing_from_an_upload(autograded):
    results = autograded["empty"]
    assert results["score"] == 0 and "no homework.py" in results["output"]


@pytest.mark.slow
def test_setup_sh_install_steps_work_in_a_fresh_virtualenv(bundle, tmp_path):
    """setup.sh's own steps after the apt-get lines (which need Gradescope's Ubuntu as root):
    a virtualenv, then the bundle's package with its pinned dependencies."""
    source = tmp_path / "source"
    with zipfile.ZipFile(bundle) as archive:
        archive.extractall(source)
    steps = [line for line in (source / "setup.sh").read_text().splitlines() if line.startswith(("python3 ", "/autograder/venv"))]
    assert steps, "setup.sh has no install steps"
    script = "\n".join(steps).replace("/autograder/source", str(source)).replace("/autograder/venv", str(tmp_path / "venv"))
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", script.replace("python3 ", f"{sys.executable} ", 1)],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    check = subprocess.run([str(tmp_path / "venv" / "bin" / "python"), "-c", "import prefect, hw3.cli; print(prefect.__version__)"],
                           capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert check.stdout.strip() == "3.8.8", check.stderr
