from homework import main

CRON = "0 9 15 * *"


def register():
    deployment = main.to_deployment(name="hw3-deployment", cron=CRON)
    return deployment.apply()


if __name__ == "__main__":
    print(register())
