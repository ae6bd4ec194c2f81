import os

from prefect import Flow
from prefect.schedules import Cron

CRON = "0 9 15 * *"


def register():
    here = os.path.dirname(os.path.abspath(__file__))
    flow = Flow.from_source(source=here, entrypoint="homework.py:main")
    return flow.to_deployment(name="duration-prediction-monthly", schedule=Cron(CRON, timezone="UTC")).apply()


if __name__ == "__main__":
    print(register())
