"""The session of the 2022 homework's checks: its runs of the submission, started together."""

from __future__ import annotations

from pathlib import Path

import pytest

from checks.flows.session import GradingSession
from hw3.grading.gradebook import question_of


@pytest.fixture(scope="session")
def grading(request, target, key, course, prefect_api_url, tmp_path_factory, grading_notes, assignment):
    """The session's runs of the submission, started together."""
    session = GradingSession(target, key, course, prefect_api_url, tmp_path_factory.mktemp("grading"))
    gradebook = grading_notes
    gradebook.notes += session.answers.notes + [f.message for f in session.findings if f.charge is None]
    gradebook.causes += [f.cause for f in session.findings if f.charge]
    gradebook.explained |= {f.charge for f in session.findings if f.charge}
    for name in ("paths", "course", "today", "real", "deployment", "q6"):
        gradebook.roots.update({str(session.sandbox(name).work): "", str(session.sandbox(name).folder): ".."})
    notes_before = len(session.answers.notes)
    checks = [item for item in request.session.items if Path(item.path).resolve().is_relative_to(assignment.folder)]
    session.start({question_of(item.name) for item in checks})
    try:
        yield session
        gradebook.notes += session.answers.notes[notes_before:]
        try:
            gradebook.figures += session.figure_lines()
        except Exception as exc:  # the checks that needed these figures said why already
            gradebook.notes.append(f"the figures of your code could not be measured: {exc}")
    finally:
        session.close()
