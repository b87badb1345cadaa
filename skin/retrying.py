"""The one retry policy every retry loop in the project uses (tenacity): capped exponential
backoff with full jitter, so many clients retrying after one outage do not return in step
(AWS Architecture Blog, "Exponential Backoff And Jitter"). Each loop chooses only what it
retries and when it stops."""

from __future__ import annotations

from tenacity import wait_random_exponential

FIRST_DELAY_SECONDS = 0.2
MAX_DELAY_SECONDS = 5.0


def backoff() -> wait_random_exponential:
    """Waits a random time between 0 and min(5 s, 0.2 s x 2^(attempt - 1))."""
    return wait_random_exponential(multiplier=FIRST_DELAY_SECONDS, max=MAX_DELAY_SECONDS)
