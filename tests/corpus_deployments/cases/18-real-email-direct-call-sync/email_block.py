from prefect_email import EmailServerCredentials

credentials = EmailServerCredentials(
    username="viktor.novak.ml@gmail.com",
    password="abcdabcdabcdabcd",  # gmail app password (revoked)
)
credentials.save("my-block")
