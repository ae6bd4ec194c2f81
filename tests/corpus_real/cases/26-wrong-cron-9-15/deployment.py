from homework import main

# 9 o'clock on the 15th
CRON = "9 15 * * *"


def register():
    deployment = main.to_deployment(name="homework-3", cron=CRON)
    return deployment.apply()


if __name__ == "__main__":
    print(register())
