from homework import main

CRON = "0 9 15 * *"


def register():
    dep = main.to_deployment(name="hw3", cron=CRON)
    return dep.apply()
