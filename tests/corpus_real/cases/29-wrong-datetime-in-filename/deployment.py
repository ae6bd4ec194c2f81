from prefect.schedules import Cron

from homework import main

CRON = "0 9 15 * *"


def register():
    return main.to_deployment(name="fhv-duration", schedule=Cron(CRON, timezone="UTC")).apply()


if __name__ == "__main__":
    print(register())
