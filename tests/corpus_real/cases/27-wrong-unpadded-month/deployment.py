from homework import main

CRON = "0 9 15 * *"


def register():
    return main.to_deployment("hw3-monthly-retrain", cron=CRON).apply()
