import os

from prefect_email import EmailServerCredentials

block = EmailServerCredentials(
    username=os.environ.get("GMAIL_USER", "marco.bellini.data@gmail.com"),
    password=os.environ.get("GMAIL_APP_PASSWORD", "not-the-real-one"),
)
block.save("taxi-alerts", overwrite=True)
