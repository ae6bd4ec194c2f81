from homework import main

CRON = "0 9 15 * *"


def register():
    deployment = main.to_deployment(
        name="fhv-training-mlflow-monthly",
        cron=CRON,
        parameters={"date": None},
    )
    deployment_id = deployment.apply()
    return deployment_id
