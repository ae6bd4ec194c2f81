"""Q3: the flow pickles the fitted model as model-{date}.bin and the fitted DictVectorizer as
dv-{date}.b in the models folder, for a given date and for today (clock set to a day)
(part `artifacts`), and q3 is right (part `answer`)."""

import pytest
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LinearRegression

from hw3.grading import artifacts
from hw3.grading.gradebook import fail


def saved(grading, run: str, kind: str, day: str, cls: type, fitted: str):
    """The object a run saved, if it is a fitted instance of `cls`."""
    path = grading.artifact(run, kind, day)
    if not path.is_file():
        others = sorted(p.name for p in path.parent.iterdir())
        elsewhere = sorted(p.name for p in path.parent.parent.iterdir() if p.is_file() and p.suffix in (".bin", ".b", ".pkl"))
        where = f"; the working directory has {', '.join(elsewhere)}" if elsewhere else ""
        fail(f"{path.name} was not saved in the models folder (it has: {', '.join(others) or 'nothing'}{where})")
    try:
        obj = artifacts.load(path)
    except artifacts.ArtifactError as exc:
        fail(str(exc))
    if not isinstance(obj, cls):
        fail(f"{path.name} holds {artifacts.describe(obj)}, not a {cls.__name__}")
    if not hasattr(obj, fitted):
        fail(f"{path.name} holds a {cls.__name__} that was not fitted")
    return obj


def test_q3_artifacts_of_the_course_date(grading, key):
    grading.finished("course", "Q3.artifacts")
    model = saved(grading, "course", "model", key.date, LinearRegression, "coef_")
    dv = saved(grading, "course", "dv", key.date, DictVectorizer, "vocabulary_")
    grading.sample_dir  # noqa: B018 (made with the validation month's dropped zone)
    if grading.dropped_feature not in dv.vocabulary_:
        fail(f"the saved DictVectorizer lacks {grading.dropped_feature}, a zone of the training month that the validation "
             "month lacks: fit it on the training month only, and only transform the validation month")
    if model.coef_.shape[-1] != len(dv.feature_names_):
        fail(f"the saved model has {model.coef_.shape[-1]} coefficients, not one per feature of the DictVectorizer ({len(dv.feature_names_)})")


def test_q3_artifacts_of_today(grading, key):
    grading.finished("today", "Q3.artifacts")
    day = key.frozen_days[0]
    saved(grading, "today", "model", day, LinearRegression, "coef_")
    saved(grading, "today", "dv", day, DictVectorizer, "vocabulary_")


def test_q3_answer_dv_size_on_real_data(grading, key, course):
    if not grading.real_files:
        pytest.skip("the real trip files of the course date are not in your data folder")
    grading.finished("real", "Q3.answer")
    size = grading.artifact("real", "dv", key.date).stat().st_size
    question = course["Q3"]
    grading.graded_by_the_instructor(question, f"the option closest to {size:,} bytes")
    if not key.answer_is(question.key, question.closest_option(size)):
        fail(f"on your real trip files the DictVectorizer file has {size:,} bytes, which is not near the expected answer")


def test_q3_answer(grading, course):
    grading.check_choice(course["Q3"], "is not the size of the DictVectorizer file")
