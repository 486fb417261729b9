"""How many calls one endpoint gets at once, and how often: an adaptive window and an rpm window.

`-j` (and a deployment's `max_parallel`) is a ceiling, not a target: an endpoint that answers 429 above some
number of calls in flight would otherwise get a burst of 429s and retries, and throughput drops as `-j`
grows. The window follows the endpoint instead (AIMD, as TCP and promptfoo do): it starts small and doubles
per round trip until the first 429 (slow start), then grows by one call per two windows of successes and
shrinks by a quarter on a 429, at most once per window. A `Retry-After` pauses the endpoint for that long.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

START = 4  # calls in flight before the endpoint has shown what it takes
DECREASE = 0.75  # window kept on a 429 (0.5 loses throughput below the endpoint's limit; measured in benchmarks/scale.py)
INCREASE = 0.5  # calls added per window of successes once a 429 was seen
RPM_WINDOW = 60.0  # seconds


@dataclass
class AdaptiveLimit:
    """The number of calls one endpoint may have in flight now, between 1 and `ceiling`; `fixed` keeps it at the
    ceiling whatever happens (how opro-cli behaved before, kept to measure the difference in benchmarks/scale.py)."""

    ceiling: int
    fixed: bool = False
    limit: float = 0.0
    in_flight: int = 0
    paused_until: float = 0.0
    _threshold: float = 0.0  # slow start below it, additive increase above
    _sent: int = 0  # tickets handed out, so a 429 shrinks the window once per window of calls
    _shrunk_at: int = -1

    def __post_init__(self) -> None:
        self.limit = float(self.ceiling if self.fixed else min(self.ceiling, START))
        self._threshold = float(self.ceiling)

    def has_room(self, now: float) -> bool:
        return self.in_flight < int(self.limit) and now >= self.paused_until

    def take(self) -> int:
        """Count a call as sent; returns its ticket for `finished`."""
        self.in_flight += 1
        self._sent += 1
        return self._sent

    def finished(self, ticket: int, rate_limited: bool = False, retry_after: float | None = None) -> None:
        """A call came back: success grows the window, a 429 shrinks it (and pauses on Retry-After)."""
        self.in_flight -= 1
        if self.fixed:
            return
        if retry_after:
            self.paused_until = max(self.paused_until, time.monotonic() + retry_after)
        if rate_limited:
            if ticket > self._shrunk_at:  # calls sent before the last shrink say nothing about the new window
                self.limit = max(1.0, self.limit * DECREASE)
                self._threshold = self.limit
                self._shrunk_at = self._sent
        elif self.limit < self._threshold:
            self.limit = min(float(self.ceiling), self.limit + 1)
        else:
            self.limit = min(float(self.ceiling), self.limit + INCREASE / self.limit)

    @property
    def current(self) -> int:
        return int(self.limit)


@dataclass
class RateWindow:
    """At most `rpm` requests in any `seconds`-long window (sliding, not calendar minutes), as the server counts
    its arrivals.

    A request reaches the server at some point between its hand-off to litellm and its answer; under a burst that
    can be seconds after the hand-off. So a request counts from its hand-off until `seconds` after its answer (or
    failure). That holds the limit at the server whatever the delays: in any window of arrivals, take the request
    handed off last; each other one was handed off before it and answered after the window opened, so it still
    counted when the last one was let through, and that one was let through only with fewer than `rpm` counted.
    """

    rpm: int
    seconds: float = RPM_WINDOW
    in_flight: int = 0
    _answered: deque[float] = field(default_factory=deque)  # answer times still within `seconds`, oldest first

    def has_room(self, now: float) -> bool:
        while self._answered and self._answered[0] <= now - self.seconds:
            self._answered.popleft()
        return self.in_flight + len(self._answered) < self.rpm

    def take(self) -> None:
        self.in_flight += 1

    def finished(self, now: float) -> None:
        self.in_flight -= 1
        self._answered.append(now)

    def next_room(self, now: float) -> float:
        """When time alone gives room (now, if there is room); `now` too when only an answer can."""
        if self.has_room(now):
            return now
        expiring = self.in_flight + len(self._answered) - self.rpm + 1  # answers that must leave the window
        return self._answered[expiring - 1] + self.seconds if expiring <= len(self._answered) else now
