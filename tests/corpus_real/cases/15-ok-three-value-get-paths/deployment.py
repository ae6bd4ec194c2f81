"""python deployment.py  -> registers the monthly deployment (prefect server must be running)"""
import homework

CRON = "0 9 15 * *"


def register(name="homework3-monthly"):
    runner_deployment = homework.main.to_deployment(
        name=name,
        cron=CRON,
        tags=["mlops-zoomcamp", "week3"],
        version="1",
    )
    deployment_id = runner_deployment.apply()
    return deployment_id


if __name__ == "__main__":
    print(f"deployment {register()} created")
