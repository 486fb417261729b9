"""How many calls one endpoint gets at once, and how often: an adaptive window and an rpm window.

`-j` (and a deployment's `max_parallel`) is a ceiling, not a target: an endpoint that answers 429 above some
number of calls in flight would otherwise get a burst of 429s and retries, and throughput drops as `-j`
grows. The window follows the endpoint instead (AIMD, as TCP and promptfoo do): it starts small and doubles
per round trip until the first 429 (slow start), then grows by one call per four windows of successes and
shrinks by a tenth on a 429, at most once per window (so repeated 429s still halve it within seven round
trips). A `Retry-After` pauses the endpoint for that long.

Sends are paced (as TCP pacing and BBR do): one every shortest round trip / window, a little faster. Without
it, calls that start together come back together and queue behind each other for the client's CPU (litellm
spends a few ms of it a call), so the whole window cycles as one burst and each call pays for the others:
measured on loopback, 8 calls at 100 ms cycled in about 130 ms unpaced. The shortest round trip, not the
average, so that a server answering one call at a time (whose round trips grow with the queue) is never kept
waiting, and a fast one is hardly paced at all.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

START = 4  # calls in flight before the endpoint has shown what it takes
# Window kept on a 429, and calls added per window of successes after one. Against an endpoint taking 8 calls at
# once at -j 32 (benchmarks/scale.py, paced): 0.75 and 0.5 gave 66 calls/s and 2.7% 429s, 0.9 and 0.25 gave 71
# calls/s and 3.4%: a deeper cut or faster probing costs more throughput below the limit than it saves in 429s.
DECREASE = 0.9
INCREASE = 0.25
PACING_GAIN = 1.25  # sends may go this much faster than window / shortest round trip: bursts spread, none capped
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
    fastest: float = 0.0  # the shortest seconds from hand-off to answer of a call that succeeded (0: none yet)
    next_send: float = 0.0  # pacing: no call is handed off before then
    _threshold: float = 0.0  # slow start below it, additive increase above
    _sent: int = 0  # tickets handed out, so a 429 shrinks the window once per window of calls
    _shrunk_at: int = -1

    def __post_init__(self) -> None:
        self.limit = float(self.ceiling if self.fixed else min(self.ceiling, START))
        self._threshold = float(self.ceiling)

    def has_room(self, now: float) -> bool:
        return self.has_slot(now) and now >= self.next_send

    def has_slot(self, now: float) -> bool:
        """Room in the window and no pause: a call may go here once pacing lets it."""
        return self.in_flight < int(self.limit) and now >= self.paused_until

    def next_room(self, now: float) -> float:
        """When time alone allows the next send (a pause, pacing); `now` when nothing but a free slot is missing."""
        return max(now, self.paused_until, self.next_send)

    def take(self, now: float = 0.0) -> int:
        """Count a call as sent at `now`; returns its ticket for `finished`."""
        self.in_flight += 1
        self._sent += 1
        if self.fastest and not self.fixed:
            self.next_send = now + self.fastest / (self.limit * PACING_GAIN)
        return self._sent

    def finished(
        self, ticket: int, rate_limited: bool = False, retry_after: float | None = None, round_trip: float | None = None
    ) -> None:
        """A call came back (answered after `round_trip` seconds, or not): success grows the window, a 429 shrinks
        it (and pauses on Retry-After)."""
        self.in_flight -= 1
        if self.fixed:
            return
        if round_trip is not None:
            self.fastest = min(self.fastest, round_trip) if self.fastest else round_trip
        if retry_after:
            self.paused_until = max(self.paused_until, time.monotonic() + retry_after)
        if rate_limited:
            if ticket > self._shrunk_at:  # calls sent before the last shrink say nothing about the new window
                self.limit = max(1.0, min(self.limit * DECREASE, self.limit - 1))  # at least a call less
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
