"""Shared test setup: offline litellm, the toy provider and the fault server (see toy_model.py and friends)."""

import os

# Before anything imports litellm: never fetch the remote price map (tests run offline).
os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"

import pytest


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
