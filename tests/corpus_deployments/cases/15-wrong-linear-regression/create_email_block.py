from prefect_email import EmailServerCredentials

EmailServerCredentials(username="hiro.tanaka.ds@gmail.com", password="app-password").save(
    "lr-mail", overwrite=True
)
