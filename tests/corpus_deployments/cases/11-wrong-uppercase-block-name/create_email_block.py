from prefect_email import EmailServerCredentials

EmailServerCredentials(
    username="nadia.rahman.dev@gmail.com",
    password="my-app-password",
).save("Email-Notify", overwrite=True)
