from prefect.schedules import Cron

from homework import main

CRON = "0 9 15 * *"


def register():
    return main.to_deployment(name="week3", schedule=Cron(CRON)).apply()
