"""The isolated Prefect server (hw3/grading/server.py): a new server's database starts as a copy of the
first one this machine made with this Prefect, and a copy Prefect does not take is replaced."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import httpx
import pytest

from hw3.grading.server import UNUSED_SERVICES, PrefectServer, _database_template


def tables(database: Path) -> set[str]:
    with closing(sqlite3.connect(database)) as connection:
        return {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def started(home: Path) -> PrefectServer:
    server = PrefectServer(home)
    url = server.start()
    assert httpx.get(f"{url}/health", timeout=10).status_code == 200
    return server


def test_a_new_server_starts_from_the_database_of_the_first(tmp_path, monkeypatch):
    monkeypatch.setenv("HW3_CACHE_DIR", str(tmp_path / "cache"))
    template = _database_template()
    first = started(tmp_path / "first")
    first.stop()
    assert {"alembic_version", "flow_run"} <= tables(template)
    with closing(sqlite3.connect(template)) as connection:  # a mark only a copy of the template has
        connection.execute("CREATE TABLE hw3_mark (x)")
        connection.commit()
    second = started(tmp_path / "second")
    second.stop()
    assert "hw3_mark" in tables(tmp_path / "second" / "prefect.db")
    assert "hw3_mark" not in tables(tmp_path / "first" / "prefect.db")


def test_a_copy_prefect_does_not_take_is_made_again(tmp_path, monkeypatch):
    monkeypatch.setenv("HW3_CACHE_DIR", str(tmp_path / "cache"))
    template = _database_template()
    template.parent.mkdir(parents=True)
    template.write_bytes(b"not a database")
    server = started(tmp_path / "home")
    server.stop()
    assert {"alembic_version", "flow_run"} <= tables(template)


def test_a_copy_of_the_template_is_not_migrated_again(tmp_path, monkeypatch):
    monkeypatch.setenv("HW3_CACHE_DIR", str(tmp_path / "cache"))
    template = _database_template()
    started(tmp_path / "first").stop()
    with closing(sqlite3.connect(template)) as connection:  # a revision Prefect's migrations do not know
        connection.execute("UPDATE alembic_version SET version_num = 'hw3-unknown'")
        connection.commit()
    started(tmp_path / "second").stop()
    with closing(sqlite3.connect(tmp_path / "second" / "prefect.db")) as connection:
        assert connection.execute("SELECT version_num FROM alembic_version").fetchall() == [("hw3-unknown",)]


def test_a_server_started_again_in_its_home_starts_empty(tmp_path, monkeypatch):
    monkeypatch.setenv("HW3_CACHE_DIR", str(tmp_path / "cache"))
    home = tmp_path / "home"
    started(home).stop()
    with closing(sqlite3.connect(home / "prefect.db")) as connection:  # what the last server held
        connection.execute("CREATE TABLE hw3_mark (x)")
        connection.commit()
    started(home).stop()
    assert "flow_run" in tables(home / "prefect.db")
    assert "hw3_mark" not in tables(home / "prefect.db")


def test_a_server_launched_ahead_is_waited_for_on_the_address_it_was_given(tmp_path):
    """What the checks do as their session starts (plugin.pytest_sessionstart): the server
    starts while pytest collects, and the fixture waits for it later."""
    server = PrefectServer(tmp_path / "home").launch()
    try:
        url, pid = server.api_url, server.process.pid
        assert url and server.process.poll() is None
        with pytest.raises(httpx.HTTPError):  # launched, not waited for: it has not answered yet
            httpx.get(f"{url}/health", timeout=1)
        assert server.start() == url
        assert httpx.get(f"{url}/health", timeout=10).status_code == 200
        assert server.process.pid == pid  # the launched process, not another
        server.stop()
        again = server.start()  # stopped, it starts anew
        assert server.process.pid != pid and httpx.get(f"{again}/health", timeout=10).status_code == 200
    finally:
        server.stop()


def test_a_server_runs_without_the_services_no_check_reads(tmp_path):
    """Late runs, the scheduler and the other loops that write to the database are off in a
    grading server's process; the triggers (2023 Q6's automations) and the event services stay."""
    server = started(tmp_path / "home")
    try:
        environ = dict(entry.split("=", 1) for entry in
                       Path(f"/proc/{server.process.pid}/environ").read_text().split("\0") if "=" in entry)
        off = {name for name, value in environ.items() if name.startswith("PREFECT_SERVER_SERVICES_") and value == "false"}
        assert off == {f"PREFECT_SERVER_SERVICES_{name.upper()}_ENABLED" for name in UNUSED_SERVICES}
        assert {"late_runs", "scheduler"} <= set(UNUSED_SERVICES)
        assert not {"triggers", "event_persister", "task_run_recorder"} & set(UNUSED_SERVICES)
    finally:
        server.stop()
