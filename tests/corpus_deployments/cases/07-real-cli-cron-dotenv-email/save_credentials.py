import os

from dotenv import load_dotenv
from prefect_email import EmailServerCredentials

load_dotenv()  # EMAIL_USER and EMAIL_PASSWORD live in .env (not committed)

credentials = EmailServerCredentials(
    username=os.getenv("EMAIL_USER", "diego.marquez.ml@gmail.com"),
    password=os.getenv("EMAIL_PASSWORD", "changeme"),
)
credentials.save("emailtest")
