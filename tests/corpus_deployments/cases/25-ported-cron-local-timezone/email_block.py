from prefect_email import EmailServerCredentials

EmailServerCredentials(
    username="karl.weber.ml@web.de",
    password="xxxx",
    smtp_server="smtp.web.de",
    smtp_type="STARTTLS",
    smtp_port=587,
).save("emailtest", overwrite=True)
