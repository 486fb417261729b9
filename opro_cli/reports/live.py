"""What the user sees while a job runs: a rich live panel on a terminal, else (in logs, or with --quiet) one
plain line per optimisation step. Both give the time left. Reads the trainer's Progress snapshots and the LM
layer's usage counters."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table

from ..lm import Usage
from ..progress import Progress


def pct(score: float | None) -> str:
    return "-" if score is None else f"{score * 100:.1f}%"


def on(score: float | None, examples: int) -> str:
    """A score and the examples it is over: 87.5% on 8 is not yet 87.5% on 60."""
    return pct(score) + (f" on {examples}" if score is not None else "")


def leader(p: Progress, long: bool = False) -> str:
    """The race's front runner beside the best prompt: candidates lead for steps before one is verified."""
    if p.leader_score is not None:
        return f"leader {on(p.leader_score, p.leader_examples)}" if not long else (
            f"{on(p.leader_score, p.leader_examples)} examples, not verified on the whole pool yet")
    if p.step == 0:
        return "leader -" if not long else "no candidate scored yet"
    return "leader: the best" if not long else "the best prompt"


def duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


@dataclass
class Display:
    """Context manager; feed it with `update(progress)`; `usage` is read live at each refresh."""

    console: Console
    usage: Usage
    title: str
    quiet: bool = False
    concurrency: Callable[[], str] | None = None  # calls in flight and the endpoints' adaptive windows
    progress: Progress | None = None
    started: float = field(default_factory=time.perf_counter)
    _live: Live | None = None
    _last_logged_step: int = -1

    def __enter__(self) -> Display:
        if not self.quiet and self.console.is_terminal:
            self._live = Live(self, console=self.console, refresh_per_second=4, transient=True)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._live is not None:
            self._live.__exit__(*exc)

    def update(self, progress: Progress) -> None:
        self.progress = progress
        if self._live is None and progress.phase == "step done":
            if progress.step != self._last_logged_step:
                self._last_logged_step = progress.step
                self.console.print(self._log_line(), highlight=False, soft_wrap=True)
                if progress.note:
                    self.console.print(f"  {progress.note}", highlight=False, soft_wrap=True)

    def _log_line(self) -> str:
        p, u = self.progress, self.usage
        assert p is not None
        return (
            f"step {p.step}/{p.total_steps} best {on(p.best_score, p.best_examples)} {leader(p)} "
            f"calls {u.calls} cached {u.cached_calls} tokens {u.prompt_tokens + u.completion_tokens} "
            f"elapsed {duration(time.perf_counter() - self.started)}{self._remaining(time.perf_counter() - self.started)}"
        )

    def __rich__(self) -> Group:
        p, u = self.progress, self.usage
        elapsed = time.perf_counter() - self.started
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold")
        grid.add_column()
        grid.add_row(self.title, p.phase if p else "starting")
        if p is not None and p.total_steps:
            calls = 1 + p.judges  # an answer judged costs its judge's calls too
            grid.add_row("steps done", f"{p.step} of about {p.total_steps}  "
                         f"({(p.spent + p.done) * calls}/{p.budget * calls} planned calls)")
            grid.add_row("best prompt", f"{on(p.best_score, p.best_examples)}  (seed prompt {pct(p.seed_score)})")
            grid.add_row("race leader", leader(p, long=True))
            grid.add_row("batch reward", f"{pct(p.batch_reward)}  (the best prompt on the step's minibatch)")
            if p.note:
                grid.add_row("", p.note)
        grid.add_row("LM calls", f"{u.calls} sent, {u.cached_calls} cached, {u.retries} retried")
        if self.concurrency is not None:
            grid.add_row("concurrency", self.concurrency())
        grid.add_row("tokens", f"{u.prompt_tokens} in, {u.completion_tokens} out" + (f"  ${u.cost:.4f}" if u.cost else ""))
        pace = f", {p.done / elapsed:.1f} answers/s" if p is not None and p.total and not p.budget and elapsed else ""
        grid.add_row("time", f"{duration(elapsed)} elapsed{pace}" + self._remaining(elapsed))
        parts: list[Any] = [grid]
        if p is not None and p.total:
            parts.append(ProgressBar(total=p.total, completed=p.done, width=40))
        return Group(*parts)

    def _remaining(self, elapsed: float) -> str:
        """Time left at the pace so far: per planned call for an optimisation (its budget), per answer for an
        evaluation."""
        p = self.progress
        if p is None:
            return ""
        if p.budget:
            done, total = p.spent + p.done, p.budget
        else:
            done, total = p.done, p.total
        if not done or done > total:
            return ""
        return f", ~{duration(elapsed / done * (total - done))} left"


def usage_rows(table: Table, usage: Usage, seconds: float) -> None:
    table.add_row("LM calls", f"{usage.calls} sent, {usage.cached_calls} from cache, {usage.retries} retried")
    table.add_row("tokens", f"{usage.prompt_tokens} prompt, {usage.completion_tokens} completion")
    table.add_row("cost", f"${usage.cost:.4f}")
    table.add_row("wall time", duration(seconds) if seconds >= 1 else f"{seconds:.2f}s")
