from homework import main

CRON = "0 9 15 * *"


def register():
    dep = main.to_deployment(name="week3-training", cron=CRON)
    return dep.apply()
