"""Skip (or, in CI, fail) a test whose real peer is missing from this machine."""

import os

import pytest


def require_peer(name: str, available: bool, how_to_install: str) -> None:
    """Stop the current test unless peer ``name`` is available.

    In CI (``CI=true``) a missing peer is a failure, because the CI script must install it;
    elsewhere the test is skipped with a reason naming the peer and how to install it.
    """
    if available:
        return
    reason = f"{name} is not available on this machine; install it with: {how_to_install}"
    if os.environ.get("CI") == "true":
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)
