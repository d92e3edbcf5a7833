"""Fixtures shared by the whole suite live in tests/plugins/<area>.py, listed here."""

import pytest

pytest_plugins = [
    "tests.plugins.record",
    "tests.plugins.drill",
    "tests.plugins.drill_scenarios",
    "tests.plugins.actions",
    "tests.plugins.notify",
    "tests.plugins.tui",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The slow tests first: with `-n 3` each worker then starts on one of them and the short
    ones fill in around, where the slowest, collected late, made the suite wait at its end."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
