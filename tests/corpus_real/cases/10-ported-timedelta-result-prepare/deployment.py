from homework import main

# ┌ minute ┌ hour ┌ day of month ┌ month ┌ day of week
CRON = "0 9 15 * *"


def register():
    dep = main.to_deployment(name="train-every-15th", cron=CRON, parameters={"date": None})
    dep_id = dep.apply()
    return dep_id
