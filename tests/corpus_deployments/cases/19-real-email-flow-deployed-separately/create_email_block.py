from prefect_email import EmailServerCredentials

credentials = EmailServerCredentials(
    username="lucas.petit.data@gmail.com",
    password="gmail-app-password",
)
credentials.save("emailtest")
