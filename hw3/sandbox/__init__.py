"""Running student code: each child runs in the wall of confine.py, under limits, and
probe.py runs one job of the assignment there (its jobs.py), behind an audit hook."""
