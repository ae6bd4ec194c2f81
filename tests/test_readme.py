"""README.md's figures of the synthetic sample are the ones the code prints."""

from __future__ import annotations

import re
import shutil

from checks.flows.session import drop_a_zone
from checks.flows import oracle
from hw3.trips.sample import DEFAULT_ROWS, ensure_sample_month
from hw3.layout import PROJECT_ROOT

README = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")


def test_the_sample_figures_in_the_readme_are_what_the_code_prints(tmp_path, monkeypatch):
    monkeypatch.setenv("HW3_CACHE_DIR", str(tmp_path / "cache"))
    train, val = (ensure_sample_month(tmp_path / "data", 2021, month, DEFAULT_ROWS) for month in (6, 7))
    figures = oracle.figures(train, val)
    row = re.search(r"^\| validation MSE [^|]*\| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \|$", README, re.MULTILINE)
    assert row and row.group(3) == f"{figures.val_mse:.3f}", row and row.groups()
    assert f"| {figures.dv_size_bytes:,} bytes |" in README and f"| {figures.feature_count} |" in README

    checks_val = shutil.copy(val, tmp_path / "val.parquet")
    drop_a_zone(checks_val, "PUlocationID")
    in_checks = oracle.figures(train, checks_val).val_mse
    assert f"their report gives\n{in_checks:.3f} where `tox -e flow` prints {figures.val_mse:.3f}" in README


def test_the_readme_cites_no_file_users_do_not_have():
    assert "../shared" not in README
