"""Fixtures of the CLI tests: a tiny IDX dataset shared by the whole session."""

from __future__ import annotations

import pytest

from ._tiny import make_tiny_mnist


@pytest.fixture(scope="session")
def tiny_root(tmp_path_factory):
    return make_tiny_mnist(tmp_path_factory.mktemp("tiny-mnist"))
