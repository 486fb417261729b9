"""The one place the jobs run their coroutines: `run(coro)`, like `asyncio.run`, with the same stop on every
supported Python (3.10 to 3.13).

Why not `asyncio.run`: on 3.10 a Ctrl-C raises KeyboardInterrupt inside whatever task happens to run, which
then logs "Task exception was never retrieved"; 3.11's Runner cancels the main task instead, but from inside
the signal handler, which can land in the middle of a socket callback (asyncio then logs an InvalidStateError).
And litellm builds each request's coroutine in the loop's default executor: when the call is cancelled
meanwhile (Ctrl-C, a budget or provider stop cancelling the calls in flight), that coroutine is never awaited
and Python warns about it. Here a Ctrl-C cancels the main task from the loop itself (a second one raises at
once), the run then ends with KeyboardInterrupt, and coroutines nobody started are closed quietly.

A Ctrl-C does not wait for the worker threads either: a call that cannot stop mid-way (the embedded model
processing a long prompt checks for cancellation only between tokens: 4 s on a busy 2-core machine) is left to
end on its own, its answer discarded; `calls_still_running` tells the console script it may exit without it.
"""

from __future__ import annotations

import asyncio
import inspect
import signal
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run `main` in a new event loop and close it; Ctrl-C (and SIGTERM, which the CLI turns into SIGINT)
    cancels `main` and raises KeyboardInterrupt once it has unwound."""
    loop = asyncio.new_event_loop()
    executor = _RequestExecutor()
    loop.set_default_executor(executor)
    task = loop.create_task(main)
    try:
        asyncio.set_event_loop(loop)
        with _SigintCancels(loop, task) as sigint:
            try:
                return loop.run_until_complete(task)
            except asyncio.CancelledError:
                if sigint.received:
                    raise KeyboardInterrupt() from None
                raise
    finally:
        if task.done() and not task.cancelled():
            task.exception()  # retrieved (e.g. a second Ctrl-C raised inside it): asyncio must not log it again
        try:
            _cancel_remaining_tasks(loop)
            loop.run_until_complete(loop.shutdown_asyncgens())
            if sigint.received:  # stop now: a call still computing in a worker thread ends on its own
                executor.shutdown(wait=False, cancel_futures=True)
                _left_running[:] = [*(e for e in _left_running if e.busy), executor]
            else:
                loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            asyncio.set_event_loop(None)
            loop.close()
            executor.close_unstarted()


_left_running: list[_RequestExecutor] = []  # executors of interrupted runs, not waited for


def calls_still_running() -> bool:
    """Whether an interrupted run left a call computing in a worker thread (its answer is discarded)."""
    return any(executor.busy for executor in _left_running)


class _SigintCancels:
    """While active (main thread, default SIGINT handler only): the first SIGINT cancels `task` from within the
    loop, between callbacks; a second one raises KeyboardInterrupt at once, for a run that does not unwind."""

    def __init__(self, loop: asyncio.AbstractEventLoop, task: asyncio.Task[Any]) -> None:
        self.loop, self.task, self.received = loop, task, 0
        self.installed = False

    def __enter__(self) -> _SigintCancels:
        if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            signal.signal(signal.SIGINT, self._on_sigint)
            self.installed = True
        return self

    def __exit__(self, *exc: object) -> None:
        if self.installed and signal.getsignal(signal.SIGINT) == self._on_sigint:
            signal.signal(signal.SIGINT, signal.default_int_handler)

    def _on_sigint(self, signum: int, frame: Any) -> None:
        self.received += 1
        if self.received == 1 and not self.task.done():
            self.loop.call_soon_threadsafe(self.task.cancel)
            return
        raise KeyboardInterrupt()


class _RequestExecutor(ThreadPoolExecutor):
    """The loop's default executor, keeping the coroutines its jobs return until the run ends.

    litellm's `acompletion` makes the request's coroutine in a worker thread and awaits it back in the loop; a
    call cancelled in between leaves that coroutine never started. Held here, it is closed at the end of the run
    instead of warning ("coroutine ... was never awaited") whenever the garbage collector finds it."""

    def __init__(self) -> None:
        super().__init__(thread_name_prefix="asyncio")
        self._coroutines: list[Coroutine[Any, Any, Any]] = []
        self._lock = threading.Lock()
        self.busy = 0  # jobs running now

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        def call() -> Any:
            with self._lock:
                self.busy += 1
            try:
                result = fn(*args, **kwargs)
            finally:
                with self._lock:
                    self.busy -= 1
            if inspect.iscoroutine(result):
                with self._lock:
                    self._coroutines = [c for c in self._coroutines if _unstarted(c)]
                    self._coroutines.append(result)
            return result

        return super().submit(call)

    def close_unstarted(self) -> None:
        with self._lock:
            coroutines, self._coroutines = self._coroutines, []
        for coroutine in coroutines:
            if _unstarted(coroutine):
                coroutine.close()


def _unstarted(coroutine: Coroutine[Any, Any, Any]) -> bool:
    return inspect.getcoroutinestate(coroutine) == inspect.CORO_CREATED  # type: ignore[arg-type]


def _cancel_remaining_tasks(loop: asyncio.AbstractEventLoop) -> None:
    """As asyncio.run does at the end: cancel what is left and wait for it; a real failure is still reported."""
    remaining = asyncio.all_tasks(loop)
    for task in remaining:
        task.cancel()
    if not remaining:
        return
    loop.run_until_complete(asyncio.gather(*remaining, return_exceptions=True))
    for task in remaining:
        if not task.cancelled() and task.exception() is not None:
            loop.call_exception_handler({"message": "task failed as the run ended", "exception": task.exception(), "task": task})
