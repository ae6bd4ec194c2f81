# prefect deployment create deployment.py
# prefect deployment ls
from prefect.deployments import DeploymentSpec
from prefect.orion.schemas.schedules import CronSchedule
from prefect.flow_runners import SubprocessFlowRunner

DeploymentSpec(
    flow_location="homework.py",
    name="cron-schedule-deployment",
    flow_runner=SubprocessFlowRunner(),
    schedule=CronSchedule(cron="0 9 15 * *", timezone="UTC"),
)
