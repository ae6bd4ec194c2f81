from homework import main

CRON = "0 9 15 * *"


def register():
    return main.to_deployment(name="monthly-training", cron=CRON).apply()


if __name__ == "__main__":
    print(register())
