"""Q5: the student's code saves an EmailServerCredentials block (the stub's save_email_block,
or a script of their own, under any block name), which the checks point at their mail server,
and the flow's run (given the checks' address when it takes one) sends a message there by the
time it completes (part `email`); q5 is right (part `answer`)."""

from checks.deployments.session import MAIL_WAIT_S
from hw3.grading import prefect_api as api
from hw3.grading.gradebook import fail

BLOCK_TYPE = "email-server-credentials"


def test_q5_email_block_is_saved(grading):
    result = grading.finished("email_block", "Q5.email")
    if "block_id" not in result.data:  # the student's own script: what it saved is on the server
        if not grading.email_blocks():
            fail(f"running {grading.email_script()} saved no EmailServerCredentials block")
        return
    block = api.block_document(grading.api_url, result.data["block_id"])
    if block is None:
        fail(f"save_email_block returned {result.data['block_id']}, but the server has no block with that id")
    name, slug, data = block
    if slug != BLOCK_TYPE:
        fail(f"save_email_block saved a block of type {slug!r}, not an EmailServerCredentials block")


def test_q5_email_reaches_the_mail_server(grading):
    block = grading.run("email_block")
    if not block.ok:
        grading.finished("email_block", "Q5.email")  # ends here, with why the block was not saved
    grading.flow_run("worker")
    if grading.mail.wait_for(None, MAIL_WAIT_S):
        return
    what = "the flow run completed, but no message reached the mail server"
    if "never awaited" in grading.ran().worker_output:
        fail(f"{what}, and Python warned that a coroutine was never awaited: email_send_message is an async task; in a "
             "sync flow call it with .submit(...) and wait for its .result()")
    if not grading.code.email_calls:
        fail(f"{what}: no file of yours calls email_send_message")
    if grading.code.sends_only_on_failure():
        fail(f"{what}: your flow sends its message only in an `except` branch, when the run fails; the homework asks "
             "for a message when the run is done")
    fail(f"{what} (email_send_message is an async task: in a sync flow, .submit(...).result() it, or it never runs)")


def test_q5_answer(grading, course):
    grading.check_choice(course["Q5"], "is not prefect-email's task that sends a message")
