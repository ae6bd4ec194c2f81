from prefect_email import EmailServerCredentials

EmailServerCredentials(
    username="sofia.k.dev@gmail.com",
    password="<app password>",
).save("sofia-gmail")
