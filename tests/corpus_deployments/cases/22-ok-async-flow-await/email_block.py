from prefect_email import EmailServerCredentials


def save_block(name: str = "hw3-smtp") -> None:
    EmailServerCredentials(
        username="mlops-alerts@example.com",
        password="placeholder-password",
    ).save(name, overwrite=True)
    print(f"saved EmailServerCredentials/{name}")


if __name__ == "__main__":
    save_block()
