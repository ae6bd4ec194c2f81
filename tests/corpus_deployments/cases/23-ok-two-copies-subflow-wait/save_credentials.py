from prefect_email import EmailServerCredentials

EmailServerCredentials(
    username="student@example.net",
    password="not-a-real-password",
).save("hw3-notifications", overwrite=True)
