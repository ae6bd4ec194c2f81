"""Q3: the worker the checks started runs the deployment with the sample months as
parameters (train 2023-01, validate 2023-02) to Completed, and the run logs the validation
RMSE that the course pipeline gives on them (oracle.py) (part `worker`); q3 is right (part
`answer`)."""

from checks.deployments.session import POOL
from hw3.grading.gradebook import fail

WORKER_LABEL = "prefect.worker.name"


def test_q3_worker_runs_the_deployment(grading):
    record = grading.flow_run("worker")
    if record.work_pool_name != POOL or record.labels.get(WORKER_LABEL) != grading.worker_name:
        fail(f"the flow run was executed by worker {record.labels.get(WORKER_LABEL)!r} of pool {record.work_pool_name!r}, "
             f"not by the checks' worker of {POOL!r}")


def test_q3_worker_logs_the_validation_rmse(grading):
    grading.flow_run("worker")
    found = grading.evidence("worker")
    reading = grading.reported_rmse(found)
    if reading is None:
        fail("no validation RMSE message in the flow run's logs on the server: log `validation RMSE: <value>` "
             "with get_run_logger()" + (f" ({found.missing})" if found.missing else ""))
    expected = grading.oracle_rmse
    if not reading.matches(expected):
        fail(f"the run logged {reading.message!r}; the course pipeline gives {expected:.5f} on the same months: "
             "keep its features (PU_DO, trip_distance) and xgboost parameters")


def test_q3_answer(grading, course):
    grading.check_choice(course["Q3"], "is not the validation RMSE of the course pipeline on January and February 2023")
