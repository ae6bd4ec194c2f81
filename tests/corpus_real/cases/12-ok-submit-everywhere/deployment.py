from homework import main

CRON = "0 9 15 * *"


def register():
    deployment = main.to_deployment(name="fhv-monthly", cron=CRON, description="retrain on the 15th")
    return deployment.apply()


if __name__ == "__main__":
    print(register())
