"""What the checks are built on: child runs of the submission, the test's Prefect server,
the answers file, and the grade model."""
