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
    """At most `rpm` requests in any `RPM_WINDOW` seconds (a sliding window, not calendar minutes)."""

    rpm: int
    _sent: deque[float] = field(default_factory=deque)

    def has_room(self, now: float) -> bool:
        while self._sent and self._sent[0] <= now - RPM_WINDOW:
            self._sent.popleft()
        return len(self._sent) < self.rpm

    def take(self, now: float) -> None:
        self._sent.append(now)

    def next_room(self, now: float) -> float:
        """When a request may go next (now, if there is room)."""
        return now if self.has_room(now) else self._sent[0] + RPM_WINDOW
