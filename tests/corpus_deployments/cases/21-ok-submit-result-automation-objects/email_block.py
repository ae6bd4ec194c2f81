"""Save the EmailServerCredentials block "duration-mail" used by retrain().

SMTP settings come from the environment (SMTP_HOST, SMTP_PORT, SMTP_USER, SMTP_PASSWORD);
the defaults are placeholders for a Gmail account with an app password.
"""

import os

from prefect_email import EmailServerCredentials

block = EmailServerCredentials(
    username=os.environ.get("SMTP_USER", "taxi-bot@example.org"),
    password=os.environ.get("SMTP_PASSWORD", "app-password"),
    smtp_server=os.environ.get("SMTP_HOST", "smtp.gmail.com"),
    smtp_port=int(os.environ.get("SMTP_PORT", "465")),
)
print(block.save("duration-mail", overwrite=True))
