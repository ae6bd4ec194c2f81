"""Save the EmailServerCredentials block that main_flow (orchestrate.py) sends its report with.

    python email_block.py SMTP_HOST SMTP_PORT [BLOCK_NAME]

To try it on your machine, `python -m aiosmtpd -n -l 127.0.0.1:8025` runs a mail server that
prints what it receives.
"""

import sys


def save_email_block(smtp_server: str, smtp_port: int, name: str = "taxi-email") -> str:
    """Save (or overwrite) the EmailServerCredentials block `name`, for plain SMTP at
    `smtp_server`:`smtp_port` with no login; return its block document id as a string.

    Q5, An email when the run is done (2 points):

    Install `prefect-email`. In `email_block.py`, save an `EmailServerCredentials` block called
    `taxi-email` for a mail server (plain SMTP, host and port as arguments). When the flow is
    given an address (`notify_to`), it sends a message there through that block at the end of the
    run, with prefect-email's pre-built task. What is that task called?
    """
    raise NotImplementedError("save an EmailServerCredentials block (prefect-email)")


if __name__ == "__main__":
    print(save_email_block(sys.argv[1], int(sys.argv[2]), *sys.argv[3:4]))
