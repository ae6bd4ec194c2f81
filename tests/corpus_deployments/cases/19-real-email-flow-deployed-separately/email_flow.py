from prefect import flow
from prefect_email import EmailServerCredentials, email_send_message


@flow
def email_flow(email_addresses: list = ["lucas.petit.data@gmail.com"]):
    email_server_credentials = EmailServerCredentials.load("emailtest")
    for email_address in email_addresses:
        subject = email_send_message.with_options(name=f"email {email_address}")(
            email_server_credentials=email_server_credentials,
            subject="Example Flow Notification using Gmail",
            msg="This proves email_send_message works!",
            email_to=email_address,
        )


if __name__ == "__main__":
    email_flow()
