from prefect_email import EmailServerCredentials

credentials = EmailServerCredentials(
    username="r.mendes.zoomcamp@gmail.com",
    password="PASSWORD",  # must be an app password
)
credentials.save("my-block", overwrite=True)
