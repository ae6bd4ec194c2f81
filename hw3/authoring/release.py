"""`hw3 release DEST`: write the student repository, without the reference or answers in clear.

What ships: the stubs (`homework/`, rendered from the catalogue) and the same homework as a
notebook (`homework/homework.ipynb`), `HOMEWORK.md`, the checks with the work part of the key
(`checks/flows/key.json`: the get_paths table and each variant's date and options, no answer in
any form; the checks there grade the work and record the answers for the instructor), the `hw3` package without its instructor-only
modules (`hw3.cli.INSTRUCTOR_MODULES`) and with a catalogue that has no `answer` fields, the
data manifest, `pyproject.toml`, a `tox.ini` with the students' environments, `.gitignore`
and a README for students.

What does not: `solutions/`, `tests/`, CI files, the instructors' README, the instructor
modules. `checks/flows/oracle.py` ships: the checks compute the expected sample MSE with it, and it is
the pipeline the stub already gives (its helpers without Prefect), not an answer.

The release is built in a temporary folder beside DEST and renamed into place when it is
complete, so a failure leaves nothing half-written; a non-empty DEST is replaced only with
`--force`.
"""

from __future__ import annotations

import argparse
import configparser
import io
import os
import shutil
import tempfile
import tomllib
from pathlib import Path
from string import Template

import tomli_w

from hw3 import assignment as assignment_module, catalogue as catalogue_module, layout
from hw3.cli import INSTRUCTOR_MODULES
from hw3.errors import Hw3Error

SHIPPED_FOLDERS = ("hw3",)  # and checks/ with the released assignment's folder only
SHIPPED_FILES = (".gitignore",)
INSTRUCTOR_FOLDERS = ("hw3/cohort",)  # `hw3 grade --cohort` on Prefect workers
HOOKS_NAME = "hooks.py"  # in each assignment's checks folder: what `hw3 key` measures (instructors only)
KEY_NAME = "key.json"  # in the assignment's checks folder: the work part of the key (hw3/grading/plugin.py reads it)
README_TEMPLATE = "hw3/authoring/templates/README.student.md"
# The tox environments students get, with the description they read in `tox list`.
STUDENT_TOX_ENVS = {
    "grade": "grade homework/ with the checks (`-- --target homework/homework.ipynb`: the notebook)",
    "flow": "run your training flow once for the course date (hw3 train)",
}
CACHE_NAMES = ("__pycache__", "*.pyc", ".pytest_cache")


def instructor_files() -> list[str]:
    """Paths, relative to the project root, that stay with the instructors."""
    modules = [name.replace(".", "/") + ".py" for name in sorted(INSTRUCTOR_MODULES)]
    return [*modules, *INSTRUCTOR_FOLDERS, README_TEMPLATE]


def student_catalogue(text: str, source: str) -> str:
    """The catalogue's TOML without the questions' `answer` fields."""
    raw = tomllib.loads(text)
    for question in raw["question"]:
        question.pop("answer", None)
    header = ("# The question catalogue of the student release. The answers are not here: the checks\n"
              "# grade your work and record your answers, which your instructor grades.\n\n")
    result = header + tomli_w.dumps(raw, multiline_strings=True)
    if any(q.answer is not None for q in catalogue_module.parse(result, source).questions):
        raise Hw3Error(f"{source}: an answer survived the release's catalogue; report this as a bug")
    return result


def student_tox_ini(text: str, source: str) -> str:
    """tox.ini with the students' environments only (no test suite ships)."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str
    parser.read_string(text, source)
    missing = [f"testenv:{name}" for name in STUDENT_TOX_ENVS if not parser.has_section(f"testenv:{name}")]
    if missing or not parser.has_section("tox"):
        raise Hw3Error(f"{source}: no [{'], ['.join(missing or ['tox'])}] section; the release needs it")
    for section in parser.sections():
        if section.startswith("testenv:") and section.removeprefix("testenv:") not in STUDENT_TOX_ENVS:
            parser.remove_section(section)
    for name, description in STUDENT_TOX_ENVS.items():
        parser[f"testenv:{name}"]["description"] = description
    parser["tox"]["env_list"] = "grade"
    out = io.StringIO()
    parser.write(out)
    header = "# tox -e grade   grade your homework (students' command 1)\n# tox -e flow    run your flow once\n"
    return header + out.getvalue().rstrip("\n") + "\n"


def student_pyproject(text: str, source: str) -> str:
    """pyproject.toml whose pytest runs the checks (there is no tests/ folder in a release)."""
    old, new = 'testpaths = ["tests"]', 'testpaths = ["checks"]'
    if text.count(old) != 1:
        raise Hw3Error(f"{source}: expected one line `{old}` under [tool.pytest.ini_options]")
    return text.replace(old, new)


def _ignore(project_root: Path):
    """shutil.copytree's `ignore`: caches, the instructor-only files, other assignments' checks
    and a local key (rebuilt)."""
    kept_out = {(project_root / relative).resolve() for relative in instructor_files()}
    kept_out |= {(project_root / "checks" / name).resolve() for name in layout.assignment_ids()}
    kept_out |= {(project_root / "checks" / name / kept).resolve() for name in layout.assignment_ids() for kept in (KEY_NAME, HOOKS_NAME)}
    caches = shutil.ignore_patterns(*CACHE_NAMES)

    def ignore(folder: str, names: list[str]) -> set[str]:
        return set(caches(folder, names)) | {n for n in names if (Path(folder) / n).resolve() in kept_out}

    return ignore


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8", newline="\n")


def build(project_root: Path, folder: Path, key_file: Path | None = None, assignment: str | None = None) -> None:
    """Write the student repository of an assignment into the existing, empty `folder`."""
    from hw3.authoring import notebook, stubs
    from hw3.grading import answer_key

    chosen = assignment_module.load(assignment, project_root)
    checks = chosen.folder.relative_to(project_root)
    for name in [*SHIPPED_FOLDERS, "checks"]:
        shutil.copytree(project_root / name, folder / name, ignore=_ignore(project_root))
    shutil.copytree(chosen.folder, folder / checks, ignore=_ignore(project_root))
    for relative in SHIPPED_FILES:
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(project_root / relative, folder / relative)

    catalogue_text = student_catalogue(chosen.catalogue_file.read_text(encoding="utf-8"), str(chosen.catalogue_file))
    _write(folder / checks / "catalogue.toml", catalogue_text)
    course = catalogue_module.parse(catalogue_text, str(folder / checks / "catalogue.toml"))
    for relative, text in stubs.rendered_files(course, chosen).items():
        _write(folder / relative, text)
    if course.main_file:
        notebook.write(notebook.homework_notebook(course, chosen), folder / chosen.homework_path() / notebook.notebook_name(course.main_file))

    for name, transform in (("tox.ini", student_tox_ini), ("pyproject.toml", student_pyproject)):
        _write(folder / name, transform((project_root / name).read_text(encoding="utf-8"), str(project_root / name)))
    own = chosen.folder / "templates" / Path(README_TEMPLATE).name  # an assignment's own, else the first's
    readme = Template((own if own.is_file() else project_root / README_TEMPLATE).read_text(encoding="utf-8"))
    _write(folder / "README.md", readme.substitute(
        course_title=course.title, course_date=course.date,
        questions_count=len(course.questions), max_score=course.max_score,
    ))
    key = answer_key.load(key_file) if key_file else answer_key.build_from_reference(project_root, chosen.id)
    key.work_only().save(folder / checks / KEY_NAME)


def _check_destination(project_root: Path, dest: Path, force: bool) -> None:
    if dest == project_root or project_root.is_relative_to(dest) or dest.is_relative_to(project_root / "hw3") \
            or dest.is_relative_to(project_root / "checks"):
        raise Hw3Error(f"{dest}: the release cannot go into the project or a folder it copies; choose another DEST")
    if dest.exists() and not dest.is_dir():
        raise Hw3Error(f"{dest} exists and is not a folder; choose another DEST")
    if dest.is_dir() and any(dest.iterdir()) and not force:
        raise Hw3Error(f"{dest} is not empty; choose an empty or new folder, or pass --force to replace "
                       "everything in it")


def release(project_root: Path, dest: Path, *, force: bool = False, key_file: Path | None = None,
            assignment: str | None = None) -> Path:
    """Write the student repository to `dest` atomically; return `dest`."""
    project_root, dest = Path(project_root).resolve(), Path(dest).resolve()
    _check_destination(project_root, dest, force)
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.release-", dir=dest.parent))
    try:
        staging.chmod(0o755)
        build(project_root, staging, key_file, assignment)
        if not dest.exists():
            staging.rename(dest)
            return dest
        old = dest.with_name(f".{dest.name}.replaced-{os.getpid()}")
        dest.rename(old)
        try:
            staging.rename(dest)
        except BaseException:
            old.rename(dest)
            raise
        shutil.rmtree(old)
        return dest
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def run(args: argparse.Namespace) -> int:
    key_file = Path(args.answer_key) if args.answer_key else None
    if args.gradescope:
        from hw3.authoring import gradescope
        from hw3.grading import answer_key

        with tempfile.TemporaryDirectory() as scratch:
            key = key_file or answer_key.build_from_reference(layout.PROJECT_ROOT, args.assignment).save(Path(scratch) / "key.json")
            if not answer_key.load(key).has_answers:
                raise Hw3Error(f"{key}: a key without answers (a student release's); give the instructor's key")
            zip_path = gradescope.bundle(layout.PROJECT_ROOT, Path(key), Path(args.gradescope), args.assignment)
        print(f"wrote the Gradescope autograder to {zip_path}: upload it as the assignment's autograder (zip)")
        if not args.dest:
            return 0
    if not args.dest:
        raise Hw3Error("give DEST (the student repository to write), or --gradescope FILE")
    dest = release(layout.PROJECT_ROOT, Path(args.dest), force=args.force, key_file=key_file, assignment=args.assignment)
    files = [path for path in dest.rglob("*") if path.is_file()]
    size = sum(path.stat().st_size for path in files)
    print(f"wrote the student release to {dest}: {len(files)} files, {size / 1024:.0f} KiB")
    print(f"left out: solutions/, tests/, {', '.join(instructor_files())}, the key's {HOOKS_NAME}, other assignments and the catalogue's answers")
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "release", help="write the student repository (no solutions, no answers) to DEST",
        description=__doc__.splitlines()[0])
    parser.add_argument("dest", metavar="DEST", nargs="?", help="the folder to write (new or empty)")
    parser.add_argument("--gradescope", metavar="ZIP", help="also (or only) write Gradescope's autograder bundle, with the answer key")
    parser.add_argument("--assignment", metavar="ID", help="the assignment to release (default: flows; `hw3 assignments` lists them)")
    parser.add_argument("--force", action="store_true", help="replace DEST even if it is not empty")
    parser.add_argument("--answer-key", metavar="FILE", help="the key whose variants the release serves (e.g. one of "
                        "`hw3 key --variants`; default: the reference's); only its work part ships, never its answers")
    parser.set_defaults(run=run)
