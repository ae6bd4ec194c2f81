from prefect_email import EmailServerCredentials

block = EmailServerCredentials(
    username="d.ivanova.ml@gmail.com",
    password="xxxxxxxxxxxxxxxx",  # app password, replaced before pushing
)
block.save("rmse-mail")
print("saved rmse-mail")
