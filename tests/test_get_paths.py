"""get_paths(date): the training month is two months before `date`, the validation month
one month before, as <data dir>/fhv_tripdata_YYYY-MM.parquet."""

from __future__ import annotations

import calendar
import datetime

import pytest
from freezegun import freeze_time

# Written out by hand: date -> (training month, validation month).
BY_HAND = {
    "2021-03-15": ("2021-01", "2021-02"),
    "2021-08-15": ("2021-06", "2021-07"),
    "2021-01-15": ("2020-11", "2020-12"),
    "2021-02-28": ("2020-12", "2021-01"),
    "2020-02-29": ("2019-12", "2020-01"),
    "2024-02-29": ("2023-12", "2024-01"),
    "2022-01-01": ("2021-11", "2021-12"),
    "2021-12-31": ("2021-10", "2021-11"),
    "2021-11-30": ("2021-09", "2021-10"),
    "2000-03-01": ("2000-01", "2000-02"),
    "1999-12-31": ("1999-10", "1999-11"),
    "2023-10-01": ("2023-08", "2023-09"),
}


def months_before(day: datetime.date) -> tuple[str, str]:
    """The two months before `day`'s month, counted on a single month index."""
    index = day.year * 12 + day.month - 1
    return tuple(f"{(index - back) // 12:04d}-{(index - back) % 12 + 1:02d}" for back in (2, 1))


def month_edges(years=(2021, 2022, 2024)) -> list[str]:
    """The first and the last day of every month of some years (2024 is a leap year)."""
    days = []
    for year in years:
        for month in range(1, 13):
            last = calendar.monthrange(year, month)[1]
            days += [f"{year}-{month:02d}-01", f"{year}-{month:02d}-{last:02d}"]
    return days


def expected(folder: str, months: tuple[str, str]) -> tuple[str, str]:
    return tuple(f"{folder}/fhv_tripdata_{month}.parquet" for month in months)


@pytest.fixture(autouse=True)
def default_data_dir(monkeypatch):
    monkeypatch.delenv("HW3_DATA_DIR", raising=False)


@pytest.mark.parametrize("date", sorted(BY_HAND))
def test_dates_written_out_by_hand(reference, date):
    assert reference.get_paths.fn(date) == expected("data", BY_HAND[date])


def test_the_hand_table_agrees_with_the_month_arithmetic():
    for date, months in BY_HAND.items():
        assert months_before(datetime.date.fromisoformat(date)) == months


@pytest.mark.parametrize("date", month_edges())
def test_first_and_last_day_of_every_month(reference, date):
    assert reference.get_paths.fn(date) == expected("data", months_before(datetime.date.fromisoformat(date)))


def test_paths_are_strings_in_the_data_dir_from_the_environment(reference, monkeypatch, tmp_path):
    monkeypatch.setenv("HW3_DATA_DIR", str(tmp_path))
    train, val = reference.get_paths.fn("2021-01-15")
    assert isinstance(train, str) and isinstance(val, str)
    assert (train, val) == expected(str(tmp_path), ("2020-11", "2020-12"))


@pytest.mark.parametrize("value", [datetime.date(2021, 1, 15), datetime.datetime(2021, 1, 31, 23, 59, 59)])
def test_date_objects(reference, value):
    assert reference.get_paths.fn(value) == expected("data", ("2020-11", "2020-12"))


@pytest.mark.parametrize("now, months", [
    ("2022-01-05 08:00:00", ("2021-11", "2021-12")),
    ("2021-03-31 23:59:59", ("2021-01", "2021-02")),
    ("2020-02-29 12:00:00", ("2019-12", "2020-01")),
    ("2023-12-01 00:00:01", ("2023-10", "2023-11")),
    ("2021-08-15 09:00:00", ("2021-06", "2021-07")),
])
def test_none_means_today(reference, prefect_api_url, now, months):
    with freeze_time(now):
        assert reference.get_paths.fn(None) == expected("data", months)
        assert reference.get_paths.fn() == expected("data", months)


@pytest.mark.filterwarnings("ignore:Logger .prefect.task_runs. attempted to send logs")  # a task run outside a flow
def test_the_task_runs_on_the_server(reference, prefect_api_url):
    state = reference.get_paths("2021-03-15", return_state=True)
    assert state.is_completed()
    assert state.result() == expected("data", ("2021-01", "2021-02"))


@pytest.mark.parametrize("bad", ["2021-13-01", "2021/08/15", "yesterday", "", "2021-02-30", "2021-8-15", "20210815"])
def test_a_malformed_date_is_a_value_error_quoting_it(reference, bad):
    with pytest.raises(ValueError) as caught:
        reference.get_paths.fn(bad)
    assert repr(bad) in str(caught.value)
    assert "YYYY-MM-DD" in str(caught.value)


def test_a_date_of_another_type_is_a_type_error(reference):
    with pytest.raises(TypeError, match="20210815"):
        reference.get_paths.fn(20210815)
