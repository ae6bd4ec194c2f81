from prefect_email import EmailServerCredentials


def create_block():
    credentials = EmailServerCredentials(
        username="chen.li.zoomcamp@gmail.com",
        password="app-password-here",
    )
    credentials.save("taxi-mail", overwrite=True)


if __name__ == "__main__":
    create_block()
