"""hw3.grading.answer_key: the key built from the reference holds digests that match the published
answers and hand-checked get_paths outputs, and nothing of them in clear."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from hw3 import catalogue
from hw3.grading import answer_key
from hw3.errors import Hw3Error
from hw3.layout import PROJECT_ROOT

# Worked out by hand: train = two months before, validation = one month before.
HAND_TABLE = {
    "2021-08-15": ("2021-06", "2021-07"),
    "2021-03-15": ("2021-01", "2021-02"),
    "2021-01-15": ("2020-11", "2020-12"),
    "2021-02-28": ("2020-12", "2021-01"),
    "2020-02-29": ("2019-12", "2020-01"),
    "2021-12-01": ("2021-10", "2021-11"),
    "1999-12-31": ("1999-10", "1999-11"),
    "2021-12-03": ("2021-10", "2021-11"),  # frozen days
    "2022-01-10": ("2021-11", "2021-12"),
    "2024-10-01": ("2024-08", "2024-09"),
}


def names(months: tuple[str, str]) -> tuple[str, str]:
    return tuple(f"fhv_tripdata_{month}.parquet" for month in months)


@pytest.fixture(scope="module")
def key() -> answer_key.AnswerKey:
    return answer_key.build_from_reference(PROJECT_ROOT)


def test_key_covers_the_table_and_the_frozen_days(key):
    course = catalogue.load()
    assert set(key.paths) == set(course.key_dates) | set(course.key_frozen_days)
    assert key.frozen_days == course.key_frozen_days
    assert (key.taxi, key.date) == (course.taxi, course.date)


@pytest.mark.parametrize("day", sorted(HAND_TABLE))
def test_paths_match_the_hand_table(key, day):
    train, val = names(HAND_TABLE[day])
    assert key.paths_are(day, train, val)
    assert key.paths_are(day, f"/some/folder/{train}", f"data/{val}")  # folders do not matter
    assert not key.paths_are(day, val, train)
    unpadded = tuple(name.replace("-0", "-") for name in (train, val))
    if unpadded != (train, val):
        assert not key.paths_are(day, *unpadded)


def test_find_paths_picks_the_pair_among_names(key):
    candidates = [f"fhv_tripdata_{y}-{m:02d}.parquet" for y in (2020, 2021) for m in range(1, 13)]
    assert key.find_paths("2021-08-15", candidates) == names(HAND_TABLE["2021-08-15"])
    assert key.find_paths("2021-08-15", candidates[:12]) is None
    assert key.find_paths("1900-01-01", candidates) is None


def test_answers_match_the_catalogue_only(key):
    for question in catalogue.load().questions:
        assert key.answer_is(question.key, question.answer)
        assert key.answer_option(question) == question.answer
        for option in question.options:
            assert key.answer_is(question.key, option) == (option == question.answer)
        assert not key.answer_is(question.key, None)


def test_saved_key_round_trips_and_holds_no_answer_in_clear(key, tmp_path):
    path = key.save(tmp_path / "key.json")
    assert answer_key.load(path) == key
    text = path.read_text()
    for question in catalogue.load().questions:
        assert f'"{question.answer}"' not in text
    assert "fhv_tripdata" not in text and "2021-06" not in text
    assert not list(tmp_path.glob(".*.part"))


def test_salt_changes_every_digest(key):
    other = answer_key.make({"q1": "train_model"}, {"2021-08-15": names(HAND_TABLE["2021-08-15"])}, taxi="fhv", date="2021-08-15")
    assert other.salt != key.salt
    assert other.answers["q1"] != key.answers["q1"] and other.paths["2021-08-15"] != key.paths["2021-08-15"]
    assert other.answer_is("q1", "train_model") and other.paths_are("2021-08-15", *names(HAND_TABLE["2021-08-15"]))
    same = answer_key.make({"q1": "train_model"}, {}, taxi="fhv", date="2021-08-15", salt=other.salt)
    assert same.answers == other.answers


@pytest.mark.parametrize("content", ["{not json", json.dumps({"format": 99}), json.dumps({"format": 1, "salt": "x"})])
def test_unreadable_key_file_names_the_file(tmp_path, content):
    path = tmp_path / "key.json"
    path.write_text(content)
    with pytest.raises(Hw3Error, match="key.json: not a readable answer key"):
        answer_key.load(path)


def test_release_catalogue_without_answers_is_refused(monkeypatch):
    course = catalogue.load()
    release = dataclasses.replace(course, questions=tuple(dataclasses.replace(q, answer=None) for q in course.questions))
    monkeypatch.setattr(answer_key.catalogue, "load", lambda *args: release)
    with pytest.raises(Hw3Error, match="no answers for Q1, Q2, Q3, Q4, Q5, Q6.*checks/<ID>/key.json"):
        answer_key.build_from_reference(PROJECT_ROOT)


def test_broken_reference_get_paths_is_refused(tmp_path):
    (tmp_path / "solutions").mkdir()
    (tmp_path / "solutions" / "homework.py").write_text(
        "def get_paths(date):\n    if date and date.startswith('1999'):\n        raise KeyError(date)\n    return ('a', 'b')\n"
    )
    with pytest.raises(Hw3Error, match=r"get_paths failed.*1999-12-31.*KeyError"):
        answer_key.build_from_reference(tmp_path)


def test_missing_reference_is_refused(tmp_path):
    with pytest.raises(Hw3Error, match=r"solutions/homework.py is missing"):
        answer_key.build_from_reference(tmp_path)


def test_key_of_a_stub_reference_says_so(tmp_path):
    (tmp_path / "solutions").mkdir()
    (tmp_path / "solutions" / "homework.py").write_text(Path(PROJECT_ROOT / "homework" / "homework.py").read_text())
    with pytest.raises(Hw3Error, match="get_paths still raises NotImplementedError"):
        answer_key.build_from_reference(tmp_path)


def test_the_key_job_runs_again_only_when_what_it_depends_on_changed(tmp_path, monkeypatch):
    """The reference's get_paths table is kept between builds (a re-run of a cohort builds its
    key again): the same code gives it without a run; an edit of the reference, or a kept file
    that cannot be read, runs the job again. No child may read where it is kept."""
    from hw3 import settings
    from hw3.sandbox import runner

    monkeypatch.setenv("HW3_CACHE_DIR", str(tmp_path / "cache"))
    runs = []
    real_run_probe = runner.run_probe
    monkeypatch.setattr(runner, "run_probe", lambda *args, **kwargs: runs.append(args[0]) or real_run_probe(*args, **kwargs))
    (tmp_path / "solutions").mkdir()
    reference = tmp_path / "solutions" / "homework.py"
    reference.write_text((PROJECT_ROOT / "solutions" / "homework.py").read_text())

    first = answer_key.build_from_reference(tmp_path)
    second = answer_key.build_from_reference(tmp_path)
    assert len(runs) == 1 and first.meaning(catalogue.load()) == second.meaning(catalogue.load())
    kept = list(settings.kept_key_paths_dir().glob("*.json"))
    assert len(kept) == 1 and "fhv_tripdata_2021-06.parquet" in kept[0].read_text()

    kept[0].write_text("{not json")
    assert answer_key.build_from_reference(tmp_path).meaning(catalogue.load()) == first.meaning(catalogue.load())
    assert len(runs) == 2

    reference.write_text(reference.read_text().replace("relativedelta(months=n)", "relativedelta(months=n + 1)"))
    assert answer_key.build_from_reference(tmp_path).meaning(catalogue.load()) != first.meaning(catalogue.load())
    assert len(runs) == 3
    spec = runner.guard_spec(tmp_path, runner.Sandbox(tmp_path / "run", api_url=""), tmp_path / "q", tmp_path / "r")
    assert settings.kept_key_paths_dir() in spec["no_read"]
