"""Cohort grading on Prefect workers (`hw3 grade --cohort`): run.py orchestrates, flow.py is
what a worker runs for one submission, slots.py the grading servers of a machine."""
