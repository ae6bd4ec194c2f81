"""Cron expressions compared by meaning: two expressions are the same schedule when they
fire at the same times. Times are computed the way Prefect computes them."""

from __future__ import annotations

import asyncio
import datetime
import functools

# Fire times are compared from these starts on (year ends, a leap February, month ends).
STARTS = tuple(
    datetime.datetime.fromisoformat(text)
    for text in ("2021-01-01T00:00", "2021-08-15T09:00", "2023-12-31T23:59", "2024-02-14T10:30", "2026-05-31T12:00")
)
FIRE_TIMES = 12  # per start


class CronError(ValueError):
    """Not a cron expression Prefect accepts."""


@functools.lru_cache(maxsize=64)
def fire_times(expression: str) -> tuple[datetime.datetime, ...]:
    """The next FIRE_TIMES times from each of STARTS (UTC; the zone does not change the meaning)."""
    from prefect.server.schemas.schedules import CronSchedule

    try:
        schedule = CronSchedule(cron=expression, timezone="UTC")
    except ValueError as exc:
        raise CronError(f"{expression!r} is not a valid cron expression ({_first_line(exc)})") from exc

    async def times() -> list[datetime.datetime]:
        found = []
        for start in STARTS:
            dates = await schedule.get_dates(n=FIRE_TIMES, start=start.replace(tzinfo=datetime.timezone.utc))
            found += [d.replace(tzinfo=None) for d in dates]
        return found

    return tuple(asyncio.run(times()))


def as_option(expression: str, options: tuple[str, ...]) -> str | None:
    """The option with the same fire times as `expression`, or None.

    Raises CronError if `expression` is not a cron expression.
    """
    times = fire_times(expression)
    return next((option for option in options if fire_times(option) == times), None)


def _first_line(exc: Exception) -> str:
    errors = getattr(exc, "errors", None)  # a pydantic ValidationError
    return errors()[0]["msg"] if callable(errors) else str(exc).splitlines()[0]
