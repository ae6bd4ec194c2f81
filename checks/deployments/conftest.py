"""The session of the 2023 homework's checks: the student's deployment, run by a worker, with
the grader's mail server and webhook receiver listening."""

from __future__ import annotations

import secrets
import pytest

from checks.deployments.services import MailSink, WebhookReceiver
from checks.deployments.session import GradingSession


@pytest.fixture(scope="session")
def mail_server():
    """An SMTP server on the grader's 127.0.0.1 that keeps the messages (Q5)."""
    sink = MailSink().start()
    try:
        yield sink
    finally:
        sink.stop()


@pytest.fixture(scope="session")
def webhook_receiver():
    """An HTTP receiver on the grader's 127.0.0.1 for the automation's calls (Q6)."""
    receiver = WebhookReceiver(secrets.token_hex(6)).start()
    try:
        yield receiver
    finally:
        receiver.stop()


@pytest.fixture(scope="session")
def grading(request, target, key, course, prefect_api_url, session_folder, grading_notes, assignment, mail_server,
            webhook_receiver):
    """The session's deployment, worker and runs of the submission, started together."""
    session = GradingSession(target, key, course, prefect_api_url, session_folder, mail_server,
                             webhook_receiver)
    with session.graded(request, grading_notes, assignment):
        yield session
