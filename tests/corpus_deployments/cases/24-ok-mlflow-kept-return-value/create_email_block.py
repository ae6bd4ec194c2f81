from prefect_email import EmailServerCredentials


def create_block(name: str = "nyc-taxi-email") -> None:
    creds = EmailServerCredentials(username="nyc-taxi@example.com", password="change-me")
    creds.save(name, overwrite=True)


if __name__ == "__main__":
    create_block()
