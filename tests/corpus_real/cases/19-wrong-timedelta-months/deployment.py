from homework import main

CRON = "0 9 15 * *"


def register():
    return main.to_deployment(name="training-15th", cron=CRON).apply()
