"""Save the EmailServerCredentials block that main_flow (orchestrate.py) sends its report with.

    python email_block.py SMTP_HOST SMTP_PORT [BLOCK_NAME]

The block speaks plain SMTP (SMTPType.INSECURE) with no login: what a local test server such
as `python -m aiosmtpd -n -l 127.0.0.1:PORT` accepts. For a real mail service, give a
username and password and keep the default SSL instead.
"""

import sys

from prefect_email import EmailServerCredentials, SMTPType


def save_email_block(smtp_server: str, smtp_port: int, name: str = "taxi-email") -> str:
    """Save (or overwrite) the block `name`; return its block document id."""
    credentials = EmailServerCredentials(
        smtp_server=smtp_server,
        smtp_port=int(smtp_port),  # else the default port of the SMTP type (25 for INSECURE)
        smtp_type=SMTPType.INSECURE,
    )
    return str(credentials.save(name, overwrite=True))


if __name__ == "__main__":
    if len(sys.argv) not in (3, 4):
        sys.exit("usage: python email_block.py SMTP_HOST SMTP_PORT [BLOCK_NAME]")
    print(save_email_block(sys.argv[1], int(sys.argv[2]), *sys.argv[3:]))
