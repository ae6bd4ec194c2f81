"""When the flow runs: a deployment of homework.main on a monthly schedule (Q4).

homework.py holds the flow; this file registers it with Prefect together with its schedule.
"""

# %%
# A cron expression has five fields: minute, hour, day of month, month, day of week.
CRON = ""
# The time zone the CRON times are read in.
TIMEZONE = "UTC"


# %%
def register(name="taxi-duration-monthly"):
    """Register the monthly deployment of homework.main and return its id.

    Q4, A deployment on a cron schedule (2 points):

    The model should be retrained at 9 AM on the 15th of every month. In `deployment.py`, set
    `CRON` to the cron expression for that schedule and write `register()`: it registers a
    deployment of `main` with that schedule on the current Prefect API, without blocking, and
    returns the deployment's id (hint: `main.to_deployment(...)` and `.apply()`).

    Which expression is it? Write it as `q4`.

    What the checks expect: register a deployment of homework.main called `name`, scheduled
    with CRON in TIMEZONE, on the current Prefect API, without blocking (no serve()), and
    return the deployment's id.
    """
    raise NotImplementedError("Q4: register() is not written yet; see its docstring and HOMEWORK.md")
