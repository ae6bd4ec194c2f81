"""The student stubs and HOMEWORK.md: rendered from the catalogue, committed as rendered, and
the stub's helpers compute the course pipeline."""

from __future__ import annotations

import ast
import dataclasses
import importlib.util
import inspect
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hw3 import catalogue
from hw3.authoring import stubs
from hw3.layout import PROJECT_ROOT

CATALOGUE = catalogue.load()
RENDERED = ("homework/homework.py", "homework/deployment.py", "homework/answers.toml", "HOMEWORK.md")
CATEGORICAL = ["PUlocationID", "DOlocationID"]
# LinearRegression solves sparse one-hot problems iteratively (scipy's lsqr, tol 1e-6): on
# 20,000 real trips its RMSE was 6.9e-7 (relative) away from the exact least-squares one.
RMSE_REL_TOL = 1e-5
GREEN_DIR = PROJECT_ROOT.parent / "shared" / "data"
GREEN_TO_FHV = {
    "lpep_pickup_datetime": "pickup_datetime",
    "lpep_dropoff_datetime": "dropOff_datetime",
    "PULocationID": "PUlocationID",
    "DOLocationID": "DOlocationID",
}


def load_module(path: Path, name: str):
    """Import a stub by file path under a name of its own."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def homework():
    return load_module(PROJECT_ROOT / "homework" / "homework.py", "stub_homework")


@pytest.fixture(scope="module")
def deployment():
    return load_module(PROJECT_ROOT / "homework" / "deployment.py", "stub_deployment")


def hw3_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run `hw3` as a real subprocess, with the project's hw3 package importable from any cwd."""
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    return subprocess.run([sys.executable, "-m", "hw3.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def project_copy(tmp_path: Path) -> tuple[Path, Path]:
    """A temporary project with the committed rendered files and its own catalogue copy."""
    project = tmp_path / "project"
    (project / "homework").mkdir(parents=True)
    for relative in RENDERED:
        shutil.copy(PROJECT_ROOT / relative, project / relative)
    catalogue_file = tmp_path / "catalogue.toml"
    shutil.copy(catalogue.CATALOGUE_FILE, catalogue_file)
    return project, catalogue_file


# --- rendering -------------------------------------------------------------------------------

def test_committed_files_are_the_rendering():
    rendered = stubs.rendered_files()
    assert sorted(rendered) == sorted(RENDERED)
    for relative, text in rendered.items():
        assert (PROJECT_ROOT / relative).read_text(encoding="utf-8") == text, (
            f"{relative} differs from its rendering; run `hw3 stubs`")


def test_check_passes_on_the_committed_project():
    result = hw3_cli("stubs", "--check", cwd=PROJECT_ROOT)
    assert result.returncode == 0, result.stderr
    assert "up to date" in result.stdout


@pytest.mark.parametrize(("old", "new", "stale"), [
    # Q2's task text is in get_paths' docstring and in HOMEWORK.md.
    ("Instead of two file paths,", "Rather than taking two file paths,",
     {"homework/homework.py", "HOMEWORK.md"}),
    # Q4's options are listed in answers.toml and HOMEWORK.md.
    ("0 15 9 1 *", "0 15 9 2 *", {"homework/answers.toml", "HOMEWORK.md"}),
    # Q4's hint is the comment above CRON.
    ("A cron expression has five fields", "Cron has five fields", {"homework/deployment.py"}),
    # The course date is the one main() runs with when homework.py is run as a script.
    ('date = "2021-08-15"', 'date = "2021-09-15"', {"homework/homework.py", "HOMEWORK.md"}),
])
def test_check_names_the_files_an_edit_of_the_catalogue_makes_stale(tmp_path, old, new, stale):
    project, catalogue_file = project_copy(tmp_path)
    text = catalogue_file.read_text(encoding="utf-8")
    assert text.count(old) == 1
    catalogue_file.write_text(text.replace(old, new), encoding="utf-8")

    checked = hw3_cli("stubs", "--check", "--project", str(project), "--catalogue", str(catalogue_file),
                      cwd=tmp_path)
    assert checked.returncode == 1
    named = {line.removeprefix("out of date: ") for line in checked.stderr.splitlines()
             if line.startswith("out of date: ")}
    assert named == stale
    before = {relative: (project / relative).read_text(encoding="utf-8") for relative in RENDERED}

    written = hw3_cli("stubs", "--project", str(project), "--catalogue", str(catalogue_file), cwd=tmp_path)
    assert written.returncode == 0, written.stderr
    assert {line.removeprefix("wrote ") for line in written.stdout.splitlines()} == stale
    for relative in RENDERED:
        after = (project / relative).read_text(encoding="utf-8")
        assert (after != before[relative]) == (relative in stale)
    shown = new.removeprefix('date = "').strip('"')
    assert all(shown in (project / relative).read_text(encoding="utf-8") for relative in stale)
    assert hw3_cli("stubs", "--check", "--project", str(project), "--catalogue", str(catalogue_file),
                   cwd=tmp_path).returncode == 0


def test_check_names_a_missing_file(tmp_path):
    project, catalogue_file = project_copy(tmp_path)
    (project / "HOMEWORK.md").unlink()
    result = hw3_cli("stubs", "--check", "--project", str(project), "--catalogue", str(catalogue_file),
                     cwd=tmp_path)
    assert result.returncode == 1
    assert "out of date: HOMEWORK.md" in result.stderr


@pytest.mark.parametrize(("edit", "expected"), [
    (lambda text: text.replace("[course]", "[course", 1), "not valid TOML"),
    (lambda text: text.replace('title = "From a script to a Prefect flow"\n', "", 1), "'title'"),
    (lambda text: text.replace("points = 2", 'points = "two"', 1), "invalid literal"),
    (lambda text: text.replace('kind = "cron"', 'kind = "crontab"', 1), "Q4 has kind 'crontab'"),
    (lambda text: text.replace('taxi = "fhv"', 'taxi = "limo"', 1), "unknown trip type 'limo'"),
])
def test_a_broken_catalogue_is_refused_and_nothing_is_written(tmp_path, edit, expected):
    project, catalogue_file = project_copy(tmp_path)
    catalogue_file.write_text(edit(catalogue_file.read_text(encoding="utf-8")), encoding="utf-8")
    (project / "HOMEWORK.md").write_text("hand-edited\n", encoding="utf-8")

    result = hw3_cli("stubs", "--project", str(project), "--catalogue", str(catalogue_file), cwd=tmp_path)
    assert result.returncode == 2
    assert str(catalogue_file) in result.stderr and expected in result.stderr
    assert "Traceback" not in result.stderr
    assert (project / "HOMEWORK.md").read_text(encoding="utf-8") == "hand-edited\n"
    assert sorted(p.name for p in (project / "homework").iterdir()) == ["answers.toml", "deployment.py",
                                                                        "homework.py"]


def test_a_missing_catalogue_is_refused(tmp_path):
    project, _ = project_copy(tmp_path)
    result = hw3_cli("stubs", "--catalogue", str(tmp_path / "nowhere.toml"), cwd=project)
    assert result.returncode == 2
    assert "nowhere.toml: cannot read the catalogue" in result.stderr and "--catalogue" in result.stderr


def test_a_folder_without_homework_is_refused(tmp_path):
    result = hw3_cli("stubs", cwd=tmp_path)
    assert result.returncode == 2
    assert "no homework/ folder" in result.stderr and "--project" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_the_published_answers_are_not_used():
    """A student release (answers removed from the catalogue) renders the same files."""
    release = dataclasses.replace(
        CATALOGUE, questions=tuple(dataclasses.replace(q, answer=None) for q in CATALOGUE.questions))
    assert stubs.rendered_files(release) == stubs.rendered_files(CATALOGUE)


def test_quotes_and_backslashes_in_a_task_stay_valid_python():
    odd = 'Say """hi""" and C:\\data\\n, then stop.'
    edited = dataclasses.replace(CATALOGUE, questions=tuple(
        dataclasses.replace(q, task=odd) if q.id == "Q2" else q for q in CATALOGUE.questions))
    tree = ast.parse(stubs.render_stub("homework.py", edited))
    get_paths = next(node for node in tree.body if getattr(node, "name", None) == "get_paths")
    assert odd in ast.get_docstring(get_paths)


def test_the_columns_come_from_the_data_manifest():
    green = dataclasses.replace(CATALOGUE, taxi="green")
    source = stubs.render_stub("homework.py", green)
    assert 'df["lpep_dropoff_datetime"] - df["lpep_pickup_datetime"]' in source
    assert '["PULocationID", "DOLocationID"]' in source
    assert "<data dir>/green_tripdata_YYYY-MM.parquet" in source


def test_split_cells_cuts_at_the_markers():
    homework_cells = stubs.split_cells(stubs.render_stub("homework.py"))
    assert homework_cells[0].startswith('"""') and homework_cells[0].endswith('"""')
    assert [cell for cell in homework_cells if cell.startswith("def get_paths")]
    assert [cell for cell in homework_cells if cell.startswith("def main")]
    assert all("# %%" not in cell for cell in homework_cells)
    compile("\n\n".join(homework_cells), "homework.py", "exec")

    md_cells = stubs.split_cells(stubs.render_homework_md())
    question_cells = [cell for cell in md_cells if cell.startswith("### Q")]
    assert [cell.split(".")[0].removeprefix("### ") for cell in question_cells] == CATALOGUE.ids
    assert all("<!-- cell -->" not in cell for cell in md_cells)


# --- what the rendered stubs say -------------------------------------------------------------

def test_docstrings_carry_the_catalogue_tasks(homework, deployment):
    get_paths_doc = inspect.getdoc(homework.get_paths)
    main_doc = inspect.getdoc(homework.main)
    register_doc = inspect.getdoc(deployment.register)
    assert CATALOGUE["Q2"].task in get_paths_doc
    assert CATALOGUE["Q1"].task in main_doc and CATALOGUE["Q3"].task in main_doc
    assert CATALOGUE["Q4"].task in register_doc
    assert f"{CATALOGUE.taxi}_tripdata_YYYY-MM.parquet" in get_paths_doc
    assert "model-{date}.bin" in main_doc and "dv-{date}.b" in main_doc
    source = (PROJECT_ROOT / "homework" / "deployment.py").read_text(encoding="utf-8")
    assert CATALOGUE["Q4"].hint.split(":")[0] in source


def test_unwritten_functions_raise_with_their_question(homework, deployment):
    with pytest.raises(NotImplementedError, match=r"^Q2: "):
        homework.get_paths("2021-08-15")
    with pytest.raises(NotImplementedError, match=r"^Q1-Q3: "):
        homework.main(date="2021-08-15")
    with pytest.raises(NotImplementedError, match=r"^Q4: "):
        deployment.register()
    assert inspect.signature(deployment.register).parameters["name"].default == "taxi-duration-monthly"
    assert inspect.signature(homework.main).parameters["date"].default is None
    assert deployment.CRON == "" and deployment.TIMEZONE == "UTC"


def test_running_the_script_calls_main_with_the_course_date():
    tree = ast.parse((PROJECT_ROOT / "homework" / "homework.py").read_text(encoding="utf-8"))
    guard = tree.body[-1]
    assert isinstance(guard, ast.If) and ast.unparse(guard.test) == "__name__ == '__main__'"
    assert ast.unparse(guard.body[0]) == f"main(date={CATALOGUE.date!r})"


def test_the_stubs_do_not_depend_on_hw3():
    for name in ("homework.py", "deployment.py"):
        tree = ast.parse((PROJECT_ROOT / "homework" / name).read_text(encoding="utf-8"))
        imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                    for alias in node.names}
        imported |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        assert "hw3" not in imported


def test_answers_toml_is_blank_and_documents_each_question():
    path = PROJECT_ROOT / "homework" / "answers.toml"
    answers = tomllib.loads(path.read_text(encoding="utf-8"))
    assert answers == {"student_id": "", **{q.key: "" for q in CATALOGUE.questions}}
    blocks = path.read_text(encoding="utf-8").split("\n\n")
    for question in CATALOGUE.questions:
        block = next(b for b in blocks if b.startswith(f"# {question.id}: {question.title}"))
        assert block.rstrip("\n").endswith(f'{question.key} = ""')
        for option in question.options:
            assert (f"#   {option}\n" if question.kind == "count" else f'#   "{option}"\n') in block
        assert ("whole number" in block) == (question.kind == "count")


def test_homework_md_lists_every_question():
    text = (PROJECT_ROOT / "HOMEWORK.md").read_text(encoding="utf-8")
    for question in CATALOGUE.questions:
        heading = f"### {question.id}. {question.title} ({question.points} point"
        assert heading in text and question.task in text
        assert "Options: " + ", ".join(f"`{option}`" for option in question.options) in text
    assert f"worth {CATALOGUE.max_score} points" in text
    for command in ("pytest checks/", "hw3 grade", "hw3 data fetch 2021-06 2021-07",
                    "hw3 data sample 2021-06 2021-07", "README.md"):
        assert command in text


# --- the working helpers ---------------------------------------------------------------------

def test_data_and_models_dirs_follow_the_environment(homework, monkeypatch):
    monkeypatch.delenv("HW3_DATA_DIR", raising=False)
    monkeypatch.delenv("HW3_MODELS_DIR", raising=False)
    assert (homework.data_dir(), homework.models_dir()) == (Path("data"), Path("models"))
    monkeypatch.setenv("HW3_DATA_DIR", "/somewhere/trips")
    monkeypatch.setenv("HW3_MODELS_DIR", "/somewhere/models")
    assert (homework.data_dir(), homework.models_dir()) == (Path("/somewhere/trips"), Path("/somewhere/models"))


def expected_rmse(train: pd.DataFrame, val: pd.DataFrame) -> tuple[float, float, int]:
    """Train and validation RMSE of a least-squares fit on one-hot zones, computed with numpy
    (no scikit-learn), and the number of one-hot columns. Inputs are raw trips.

    The one-hot columns are collinear, so the fit is not unique; like LinearRegression, take
    the least-norm solution of the centred problem and an intercept from the means."""
    def prepared(df):
        minutes = (df["dropOff_datetime"] - df["pickup_datetime"]) / pd.Timedelta(minutes=1)
        keep = (minutes >= 1) & (minutes <= 60)
        zones = df.loc[keep, CATEGORICAL].fillna(-1).astype("int64")
        return zones, minutes[keep].to_numpy()

    train_zones, y_train = prepared(train)
    val_zones, y_val = prepared(val)
    columns = sorted({(c, v) for c in CATEGORICAL for v in train_zones[c].unique()})

    def one_hot(zones):
        return np.column_stack([(zones[c] == v).to_numpy(float) for c, v in columns])

    X_train = one_hot(train_zones)
    x_mean, y_mean = X_train.mean(axis=0), y_train.mean()
    coef, *_ = np.linalg.lstsq(X_train - x_mean, y_train - y_mean, rcond=None)

    def rmse(X, y):
        return float(np.sqrt(np.mean((X @ coef + y_mean - x_mean @ coef - y) ** 2)))

    return rmse(X_train, y_train), rmse(one_hot(val_zones), y_val), len(columns)


def synthetic_trips(seed: int, rows: int = 3000) -> pd.DataFrame:
    """FHV-shaped trips: float zones with gaps, durations on both sides of 1..60 minutes."""
    rng = np.random.default_rng(seed)
    pickup = pd.Timestamp("2021-06-01") + pd.to_timedelta(rng.integers(0, 29 * 86400, rows), unit="s")
    pu = rng.integers(1, 30, rows).astype(float)
    do = rng.integers(1, 30, rows).astype(float)
    pu[rng.random(rows) < 0.8] = np.nan
    do[rng.random(rows) < 0.1] = np.nan
    minutes = 5 + 0.3 * np.nan_to_num(pu, nan=10) + 0.5 * np.nan_to_num(do, nan=4) + rng.normal(0, 6, rows)
    minutes = np.clip(minutes, 2, 59)
    minutes[:6] = [1.0, 60.0, 0.99, 60.01, -3.0, 0.0]  # the bounds: 2 kept, 4 dropped
    return pd.DataFrame({
        "dispatching_base_num": "B00013",
        "pickup_datetime": pickup,
        "dropOff_datetime": pickup + pd.to_timedelta(np.round(minutes * 60), unit="s"),
        "PUlocationID": pu,
        "DOlocationID": do,
    })


def run_pipeline(homework, train_file: Path, val_file: Path):
    train = homework.prepare_features(homework.read_data(train_file), CATEGORICAL)
    val = homework.prepare_features(homework.read_data(val_file), CATEGORICAL, train=False)
    lr, dv = homework.train_model(train, CATEGORICAL)
    return train, val, lr, dv, homework.run_model(val, CATEGORICAL, dv, lr)


def test_helpers_compute_the_course_pipeline(homework, tmp_path, capsys):
    raw_train, raw_val = synthetic_trips(1), synthetic_trips(2)
    raw_train.to_parquet(tmp_path / "train.parquet")
    raw_val.to_parquet(tmp_path / "val.parquet")

    train, val, lr, dv, val_mse = run_pipeline(homework, tmp_path / "train.parquet", tmp_path / "val.parquet")

    assert train["duration"].between(1, 60).all() and len(train) == len(raw_train) - 4
    assert {1.0, 60.0} <= set(train["duration"].iloc[:2])
    assert set(train["PUlocationID"]) >= {"-1", "1"} and all(isinstance(v, str) for v in train["PUlocationID"])
    assert "PUlocationID=-1" in dv.feature_names_
    train_mse, want_val_mse, features = expected_rmse(raw_train, raw_val)
    assert len(dv.feature_names_) == features
    assert val_mse == pytest.approx(want_val_mse, rel=RMSE_REL_TOL)

    printed = capsys.readouterr().out.splitlines()
    assert printed == [
        f"Mean trip duration (training): {train['duration'].mean()} minutes",
        f"Mean trip duration (validation): {val['duration'].mean()} minutes",
        f"X_train shape: {(len(train), features)}",
        f"DictVectorizer features: {features}",
        printed[4],
        f"Validation MSE: {val_mse}",
    ]
    assert float(printed[4].removeprefix("Training MSE: ")) == pytest.approx(train_mse, rel=RMSE_REL_TOL)


@pytest.mark.skipif(not GREEN_DIR.is_dir(), reason=f"no real trip files in {GREEN_DIR}")
def test_helpers_on_real_trips(homework, tmp_path, capsys):
    """Real TLC records (green taxi, renamed to the FHV columns; the first 20,000 trips)."""
    raw = {}
    for month in ("01", "02"):
        trips = pd.read_parquet(GREEN_DIR / f"green_tripdata_2021-{month}.parquet").rename(columns=GREEN_TO_FHV)
        raw[month] = trips.head(20_000)
        raw[month].to_parquet(tmp_path / f"fhv_tripdata_2021-{month}.parquet")

    *_, dv, val_mse = run_pipeline(homework, tmp_path / "fhv_tripdata_2021-01.parquet",
                                   tmp_path / "fhv_tripdata_2021-02.parquet")

    _, want_val_mse, features = expected_rmse(raw["01"], raw["02"])
    assert len(dv.feature_names_) == features
    assert val_mse == pytest.approx(want_val_mse, rel=RMSE_REL_TOL)
    assert f"Validation MSE: {val_mse}" in capsys.readouterr().out
