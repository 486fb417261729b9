"""opro_cli/event_loop.run: how every job runs its coroutines, with the same stop on every supported Python."""

import asyncio
import gc
import signal
import threading
import time
import warnings

import pytest

from opro_cli import event_loop


def test_returns_the_result_and_leaves_no_loop_behind():
    async def main():
        return 42

    assert event_loop.run(main()) == 42
    with pytest.raises(RuntimeError):
        asyncio.get_running_loop()


def test_ctrl_c_cancels_the_run_which_unwinds_then_raises_keyboard_interrupt():
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    unwound = []

    async def main():
        asyncio.get_running_loop().call_later(0.05, signal.raise_signal, signal.SIGINT)
        try:
            await asyncio.sleep(10)
        finally:
            unwound.append("main")

    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        event_loop.run(main())
    assert unwound == ["main"] and time.monotonic() - started < 5
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back


def test_a_coroutine_made_in_a_worker_thread_for_a_cancelled_call_is_closed_without_a_warning():
    # What litellm.acompletion does: the request's coroutine is built in the default executor, then awaited;
    # a call cancelled while the worker runs never awaits it.
    async def request():
        return "answer"

    def build_request():
        time.sleep(0.1)
        return request()

    async def main():
        call = asyncio.get_running_loop().run_in_executor(None, build_request)
        await asyncio.sleep(0.01)
        call.cancel()

    gc.collect()  # earlier tests' garbage (unclosed sockets...) must not warn in here
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        event_loop.run(main())
        gc.collect()
    assert [str(w.message) for w in caught if "never awaited" in str(w.message)] == []


def test_ctrl_c_never_cancels_in_the_middle_of_a_callback(caplog):
    # A signal handler runs between any two bytecodes. asyncio.run's (3.11+) cancels the run right there, which
    # can fall between a socket callback's "is the future done?" check and its set_result: asyncio then logs an
    # InvalidStateError. Here the cancel is queued on the loop and runs after the callback.
    async def main():
        loop = asyncio.get_running_loop()
        data = loop.create_future()

        def socket_callback():
            if not data.done():
                signal.raise_signal(signal.SIGINT)  # the Ctrl-C lands here
                data.set_result(b"answer")

        loop.call_soon(socket_callback)
        await data
        await asyncio.sleep(10)

    with caplog.at_level("ERROR", logger="asyncio"), pytest.raises(KeyboardInterrupt):
        event_loop.run(main())
    assert caplog.text == ""


def test_ctrl_c_does_not_wait_for_a_call_that_cannot_stop_and_says_it_is_still_running():
    # The embedded model checks for cancellation between tokens only: a long prompt's processing runs on in its
    # worker thread. The run stops at once; the console script may then exit without that thread.
    release = threading.Event()

    def prompt_processing():
        release.wait(30)

    async def main():
        loop = asyncio.get_running_loop()
        loop.call_later(0.1, signal.raise_signal, signal.SIGINT)
        await loop.run_in_executor(None, prompt_processing)

    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        event_loop.run(main())
    assert time.monotonic() - started < 10 and event_loop.calls_still_running()
    release.set()
    deadline = time.monotonic() + 10
    while event_loop.calls_still_running() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not event_loop.calls_still_running()


def test_a_run_that_ends_normally_waits_for_its_worker_threads():
    finished = []

    def work():
        time.sleep(0.2)
        finished.append(True)

    async def main():
        asyncio.get_running_loop().run_in_executor(None, work)  # not awaited: the end of the run waits for it

    event_loop.run(main())
    assert finished == [True] and not event_loop.calls_still_running()
