from prefect.client.schemas.schedules import CronSchedule

from homework import main

CRON = "0 9 15 * *"


def register(name: str = "monthly-fhv-training"):
    deployment = main.to_deployment(
        name=name,
        schedules=[CronSchedule(cron=CRON, timezone="UTC")],
    )
    return deployment.apply()


if __name__ == "__main__":
    print(register())
