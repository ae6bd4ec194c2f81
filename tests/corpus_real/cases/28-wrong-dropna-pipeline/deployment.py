from homework import main

CRON = "0 9 15 * *"


def register():
    return main.to_deployment(name="fhv-15th", cron=CRON).apply()
