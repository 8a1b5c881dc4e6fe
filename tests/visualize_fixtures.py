"""Fixtures of the visualize tests (loaded with ``pytest_plugins = ("tests.visualize_fixtures",)``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.visualize_data import copy_workspace, make_corpus, make_lookup, make_run


@pytest.fixture(scope="session")
def prepared_workspace(tmp_path_factory) -> Path:
    """A workspace with the fm subdiv-5 table, corpus 'duo' and one evaluated run (built once).

    The visualize test modules load this file as a plugin (``pytest_plugins``).
    """
    ws = tmp_path_factory.mktemp("visualize-base")
    make_lookup(ws)
    make_corpus(ws)
    make_run(ws)
    return ws


@pytest.fixture
def ws(prepared_workspace: Path, tmp_path: Path) -> Path:
    """A private copy of :func:`prepared_workspace`."""
    return copy_workspace(prepared_workspace, tmp_path / "ws")
