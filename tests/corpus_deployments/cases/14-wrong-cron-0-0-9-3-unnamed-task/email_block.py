from prefect_email import EmailServerCredentials


def main() -> None:
    EmailServerCredentials(
        username="anika.schulz@posteo.de",
        password="secret",
        smtp_server="posteo.de",
        smtp_port=465,
    ).save("zoomcamp-email", overwrite=True)


if __name__ == "__main__":
    main()
