"""Grading a submission: the grade model, the session of child runs, the answers file and
what the checks read back from the Prefect server. It names no question: an assignment's
checks (checks/<ID>/) supply those."""
