from prefect_email import EmailServerCredentials

# fill in before running: python mail.py
USERNAME = "g.papadopoulos.ds@gmail.com"
PASSWORD = "<16-char app password>"

EmailServerCredentials(username=USERNAME, password=PASSWORD).save("nys-gmail", overwrite=True)
