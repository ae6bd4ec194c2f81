from pathlib import Path

from prefect import flow

CRON = "0 9 15 * *"  # 9 AM on the 15th of each month


def register():
    remote_flow = flow.from_source(
        source=str(Path(__file__).parent.resolve()),
        entrypoint="homework.py:main",
    )
    deployment_id = remote_flow.to_deployment(name="fhv-retrain-monthly", cron=CRON).apply()
    return deployment_id


if __name__ == "__main__":
    print(f"deployment id: {register()}")
