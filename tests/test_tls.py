"""The package's calls to a Prefect server share one TLS context a process (hw3/grading/tls.py):
making one costs about 50 ms of CPU, and the checks and a cohort call every second."""

from __future__ import annotations

import ssl

from hw3.cohort import slots
from hw3.grading import prefect_api as api
from hw3.grading import tls


def test_calls_and_health_checks_make_one_context_each_kind(prefect_api_url, monkeypatch):
    made = []
    plain = ssl.create_default_context

    def counted(*args, **kwargs):
        made.append(kwargs.get("cafile"))
        return plain(*args, **kwargs)

    monkeypatch.setattr(ssl, "create_default_context", counted)
    tls.context.cache_clear()
    try:
        for _ in range(3):
            assert api.variables(prefect_api_url, ["hw3-tls-test"]) == {}
            assert slots._healthy(prefect_api_url)
    finally:
        tls.context.cache_clear()
    # One for Prefect's client (PREFECT_API_SSL_CERT_FILE, which also reads SSL_CERT_FILE) and one
    # for the health checks (certifi's bundle, as httpx's): the same bundle where no file is set.
    assert len(made) == len(set(made)) <= 2, made


def test_an_unverified_context_is_asked_for_by_name():
    assert tls.context(verify=False).verify_mode == ssl.CERT_NONE
    assert tls.context().verify_mode == ssl.CERT_REQUIRED and tls.context() is tls.context()
