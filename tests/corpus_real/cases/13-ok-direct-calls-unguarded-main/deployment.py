from homework import main

CRON = "0 9 15 * *"


def register():
    deployment = main.to_deployment(name="monthly", cron=CRON)
    return deployment.apply()
