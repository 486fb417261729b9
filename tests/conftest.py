"""Shared test setup: offline litellm, the toy provider and the fault server (see toy_model.py and friends)."""

import os

# Before anything imports litellm: never fetch the remote price map (tests run offline).
os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"

import signal

import pytest

# A test run started in the background of a non-interactive shell (a CI runner's, `cmd &`) inherits SIGINT
# ignored, and so would every `opro` process it starts; the Ctrl-C tests need it delivered, as in a terminal.
# A signal with a handler is reset to its default in a child at exec; an ignored one would stay ignored.
signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture
def toy_provider():
    """The `toy` litellm provider, registered, with its call counter reset; yields the module."""
    import toy_provider as module

    module.register()
    module.reset()
    yield module
    module.reset()


@pytest.fixture
def fault_server():
    """Factory: `fault_server(fault_rate=..., faults=..., ...)` starts a FaultServer, stopped after the test."""
    from fault_server import FaultServer

    servers = []

    def start(**kwargs):
        server = FaultServer(**kwargs).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
