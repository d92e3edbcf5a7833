"""When to try a failed notification again: exponential backoff with jitter.

The number of attempts lives in the record, so the schedule carries on across
restarts; the jitter spreads retries of many warrooms (or many items) after an
outage instead of sending them all in the same second.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from actions.config import RetrySettings


def retry_delay(
    attempts_before: int,
    retry: RetrySettings,
    rng: random.Random,
    *,
    retry_after: float | None = None,
) -> timedelta:
    """The wait after a failure that follows `attempts_before` earlier attempts.

    base * 2^attempts, capped, then "equal jitter" (half fixed, half random), and
    never sooner than the server's Retry-After.
    """
    ceiling = min(retry.max_seconds, retry.base_seconds * 2 ** min(attempts_before, 40))
    seconds = ceiling / 2 + rng.uniform(0, ceiling / 2)
    if retry_after is not None:
        seconds = max(seconds, retry_after)
    return timedelta(seconds=seconds)


def past_give_up(created_at: datetime, now: datetime, retry: RetrySettings) -> bool:
    """True when a notification has been failing for longer than the configured patience."""
    return now - created_at >= timedelta(hours=retry.give_up_after_hours)
