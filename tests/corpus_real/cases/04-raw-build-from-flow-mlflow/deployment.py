# prefect 2.4: python deployment.py, then `prefect agent start -q default`
from prefect.deployments import Deployment
from prefect.orion.schemas.schedules import CronSchedule

from homework import main

deployment = Deployment.build_from_flow(
    flow=main,
    name="model_training_cron",
    schedule=CronSchedule(cron="0 9 15 * *", timezone="Europe/Berlin"),
    work_queue_name="default",
    tags=["hw3"],
)

deployment.apply()
