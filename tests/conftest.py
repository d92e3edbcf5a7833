"""Fixtures shared by the whole suite live in tests/plugins/<area>.py, listed here."""

pytest_plugins = [
    "tests.plugins.record",
    "tests.plugins.drill",
    "tests.plugins.drill_scenarios",
    "tests.plugins.actions",
    "tests.plugins.notify",
    "tests.plugins.tui",
]

