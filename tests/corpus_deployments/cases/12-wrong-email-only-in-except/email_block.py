from prefect_email import EmailServerCredentials

if __name__ == "__main__":
    EmailServerCredentials(
        username="j.okafor.ml@gmail.com",
        password="<gmail app password>",
    ).save("taxi-failures", overwrite=True)
