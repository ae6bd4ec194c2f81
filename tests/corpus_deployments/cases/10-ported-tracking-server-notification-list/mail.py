from prefect_email import EmailServerCredentials

credentials_block = EmailServerCredentials(
    username="omar.haddad.mlops@gmail.com",
    password="YOUR_APP_PASSWORD",
)
credentials_block.save("nys-gmail", overwrite=True)
