"""The TLS contexts of the package's HTTP clients, made once per process.

Making a context loads every trusted certificate: about 50 ms of CPU. httpx and Prefect's
client make one for every client they build unless they are given one, and the package
builds a client for each call to a server: the checks and a cohort read their runs every
second, and a server's start is watched every 0.2 s. Given the same context, a call costs
about 6 ms of CPU instead of 60 (measured). The contexts trust what those clients would
trust, so a server behind HTTPS is verified as before.
"""

from __future__ import annotations

import functools
import ssl


@functools.cache
def context(cafile: str | None = None, verify: bool = True) -> ssl.SSLContext:
    """A context that trusts the certificates of `cafile` (default: certifi's bundle, as
    httpx's and Prefect's clients do), or any certificate if not `verify`."""
    if not verify:
        unverified = ssl.create_default_context()
        unverified.check_hostname = False
        unverified.verify_mode = ssl.CERT_NONE
        return unverified
    import certifi

    return ssl.create_default_context(cafile=cafile or certifi.where())


def prefect_context() -> ssl.SSLContext:
    """The context Prefect's client would make for itself under the current settings
    (PREFECT_API_SSL_CERT_FILE, PREFECT_API_TLS_INSECURE_SKIP_VERIFY)."""
    from prefect.settings import PREFECT_API_SSL_CERT_FILE, PREFECT_API_TLS_INSECURE_SKIP_VERIFY

    return context(PREFECT_API_SSL_CERT_FILE.value() or None, not PREFECT_API_TLS_INSECURE_SKIP_VERIFY.value())
