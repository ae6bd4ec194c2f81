"""The session of the 2022 homework's checks: its runs of the submission, started together."""

from __future__ import annotations

import pytest

from checks.flows.session import GradingSession


@pytest.fixture(scope="session")
def grading(request, target, key, course, prefect_api_url, session_folder, grading_notes, assignment):
    """The session's runs of the submission, started together."""
    session = GradingSession(target, key, course, prefect_api_url, session_folder)
    with session.graded(request, grading_notes, assignment):
        yield session
