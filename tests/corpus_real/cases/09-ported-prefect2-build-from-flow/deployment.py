from prefect.deployments import Deployment
from prefect.server.schemas.schedules import CronSchedule

from homework import main

CRON = "0 9 15 * *"


def register():
    deployment = Deployment.build_from_flow(
        flow=main,
        name="fhv-training-monthly",
        schedule=CronSchedule(cron=CRON, timezone="UTC"),
        work_queue_name="ml",
    )
    return deployment.apply()


if __name__ == "__main__":
    print(register())
