from pathlib import Path

from prefect import Flow

CRON = "0 9 15 * *"


def register():
    src = Path(__file__).resolve().parent
    return Flow.from_source(str(src), "homework.py:main").to_deployment("fhv-monthly", cron=CRON).apply()
