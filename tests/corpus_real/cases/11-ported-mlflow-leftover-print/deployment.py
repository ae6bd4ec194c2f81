# prefect 3 version of my old DeploymentSpec
from homework import main

CRON = "0 9 15 * *"


def register():
    return main.to_deployment(name="hw3-cron", cron=CRON, tags=["hw3"]).apply()


if __name__ == "__main__":
    print("created", register())
