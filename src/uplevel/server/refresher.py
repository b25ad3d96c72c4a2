"""Keep timestamp.json fresh while the server runs.

The timestamp role's key is the repository's online key: clients refuse an expired
timestamp, and the publisher may not publish for weeks, so the server re-signs it
(through the publisher's code) when less than half of its lifetime is left. A
failure is logged and retried at the next tick; it never stops the serving. A
publisher holding the repository lock is not a failure: it is writing a fresh
timestamp itself.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import anyio

from uplevel.errors import BusyError

logger = logging.getLogger("uplevel.server")

DEFAULT_INTERVAL = 300.0
"""Seconds between checks: far below the shortest lifetime (one day), and a check
reads two small files."""


def refresh_once(resign_if_due: Callable[[], int | None]) -> int | None:
    """One check; the new timestamp version when it was re-signed, else None."""
    try:
        version = resign_if_due()
    except BusyError:
        logger.info("timestamp check skipped: a publisher holds the repository lock")
        return None
    except Exception:
        # Anything (a damaged file, a missing key, a full disk) must not end the loop:
        # the server keeps serving the current timestamp and says why it could not renew it.
        logger.exception("could not re-sign timestamp.json; trying again at the next check")
        return None
    if version is not None:
        logger.info("re-signed timestamp.json as version %d", version)
    return version


async def keep_timestamp_fresh(resign_if_due: Callable[[], int | None], interval: float) -> None:
    """Check now, then every `interval` seconds, until cancelled."""
    while True:
        await anyio.to_thread.run_sync(refresh_once, resign_if_due)
        await anyio.sleep(interval)
