# was a DeploymentSpec in homework.py (prefect 2.0b5), moved here for prefect 3
from homework import main

CRON = "0 9 15 * *"


def register():
    deployment = main.to_deployment(
        name="model_training",
        cron=CRON,
        tags=["ml"],
    )
    return deployment.apply()


if __name__ == "__main__":
    print(register())
