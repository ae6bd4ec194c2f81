from prefect_email import EmailServerCredentials

credentials = EmailServerCredentials(
    username="my.email.address@gmail.com",
    password="abcd efgh ijkl mnop",  # gmail app password
)
credentials.save("nys-gmail")
