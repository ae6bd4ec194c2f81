"""Q5: the student's save_email_block saves an EmailServerCredentials block for the checks'
mail server, and a run of the deployment given `notify_to` sends its message there
(part `email`); q5 is right (part `answer`)."""

from checks.deployments.session import MAIL_WAIT_S
from hw3.grading import prefect_api as api
from hw3.grading.gradebook import fail

BLOCK_TYPE = "email-server-credentials"


def test_q5_email_block_is_saved(grading):
    result = grading.finished("email_block", "Q5.email")
    block = api.block_document(grading.api_url, result.data["block_id"])
    if block is None:
        fail(f"save_email_block returned {result.data['block_id']}, but the server has no block with that id")
    name, slug, data = block
    if slug != BLOCK_TYPE:
        fail(f"save_email_block saved a block of type {slug!r}, not an EmailServerCredentials block")
    if str(data.get("smtp_server")) != "127.0.0.1" or str(data.get("smtp_port")) != str(grading.mail.port):
        port = f"port {data['smtp_port']}" if data.get("smtp_port") else "the default port of its SMTP type"
        fail(f"the block {name!r} sends through {data.get('smtp_server')} on {port}, not through the server and port "
             f"given to save_email_block (127.0.0.1, port {grading.mail.port})")


def test_q5_email_reaches_the_mail_server(grading):
    grading.flow_run("email")
    mails = grading.mail.wait_for(grading.notify_to, MAIL_WAIT_S)
    if mails:
        return
    if "never awaited" in grading.ran().worker_output:
        fail(f"the run with notify_to={grading.notify_to!r} completed, but no message reached the mail server, and Python "
             "warned that a coroutine was never awaited: email_send_message is an async task; in a sync flow call it "
             "with .submit(...) and wait for its .result()")
    fail(f"the run with notify_to={grading.notify_to!r} completed, but no message to that address reached the mail server "
         "(email_send_message is an async task: in a sync flow, .submit(...).result() it, or it never runs)")


def test_q5_answer(grading, course):
    grading.check_choice(course["Q5"], "is not prefect-email's task that sends a message")
