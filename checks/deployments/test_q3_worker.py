"""Q3: the worker the checks started runs the student's flow on the sample months (train
2023-01, validate 2023-02), and the run reports the validation RMSE that the course pipeline
gives on them (oracle.py), wherever it reports it: logged, printed, tracked in MLflow, shown in
an artifact or returned (part `worker`); a run that fails later, in
another part's code (say, loading the email block), keeps this part; q3 is right (part
`answer`)."""

from checks.deployments.session import POOL
from hw3.grading.gradebook import fail

WORKER_LABEL = "prefect.worker.name"


def test_q3_worker_runs_the_deployment(grading):
    record = grading.flow_run("worker", ended=True)
    if record.work_pool_name != POOL or record.labels.get(WORKER_LABEL) != grading.worker_name:
        fail(f"the flow run was executed by worker {record.labels.get(WORKER_LABEL)!r} of pool {record.work_pool_name!r}, "
             f"not by the checks' worker of {POOL!r}")


def test_q3_worker_logs_the_validation_rmse(grading):
    grading.flow_run("worker", ended=True)
    if grading.matching_rmse("worker"):
        return  # a failure after it is the part's where it raised
    grading.flow_run("worker")  # it failed before it reported the RMSE: that is why
    readings = grading.reported_rmse("worker")
    missing = grading.evidence("worker").missing
    exact, today = grading.oracle_rmse
    if not readings:
        fail("the flow run reported no validation RMSE: log it (get_run_logger(), or print it in a flow with "
             "log_prints=True), track it as an MLflow metric, show it in the markdown artifact, or return it from the flow" + (f" ({missing})" if missing else ""))
    shown = "; ".join(r.message[:80] for r in readings[-3:])
    fail(f"the run reported {shown}; the course pipeline gives {exact:.5f} on the same months ({today:.5f} with "
         "xgboost's defaults of today): keep its features (PU_DO, trip_distance) and xgboost parameters")


def test_q3_answer(grading, course):
    grading.check_choice(course["Q3"], "is not the validation RMSE of the course pipeline on January and February 2023")
