"""Q4: the worker's flow run has a markdown artifact on the server that shows its validation
RMSE (the figure the run logged, else the course pipeline's) (part `artifact`); q4 is right
(part `answer`)."""

from hw3.grading import measure
from hw3.grading.gradebook import fail


def shows(text: str, figure: float) -> bool:
    """Whether `text` writes `figure`, to the precision it prints it with (5.60 shows 5.5964)."""
    for number in measure.NUMBER.findall(text):
        reading = measure.Reading(float(number), measure._tolerance(number), text)
        if "." in number and reading.matches(figure):
            return True
    return False


def test_q4_artifact_shows_the_rmse(grading):
    run = "artifact" if "artifact" in grading.ran().runs else "worker"
    evidence = grading.evidence(run)
    markdown = [a for a in evidence.artifacts if a.type == "markdown"]
    if not markdown:
        grading.flow_run(run)  # it failed before it made one: that is why
        kinds = ", ".join(sorted({str(a.type) for a in evidence.artifacts}))
        fail("the flow run has no markdown artifact" + (f" (only {kinds})" if kinds else "")
             + ": call create_markdown_artifact(key=..., markdown=...) in the flow or a task"
             + (f" ({evidence.missing})" if evidence.missing else ""))
    figures = [r.value for r in grading.reported_rmse(run) if not r.message.startswith("the markdown artifact")]
    figures += list(grading.oracle_rmse)
    if not any(shows(str(a.data), figure) for a in markdown for figure in figures):
        fail(f"the flow run's markdown artifact does not show its validation RMSE ({figures[0]:.5f}): "
             f"{' '.join(str(markdown[0].data).split())[:200]!r}")


def test_q4_answer(grading, course):
    grading.check_choice(course["Q4"], "is not the RMSE of the run that trains on February and validates on March 2023")
