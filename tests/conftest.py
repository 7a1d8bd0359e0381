from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakediscord import capture_error_logs


@pytest.fixture(autouse=True)
def no_error_logs(request: pytest.FixtureRequest) -> Iterator[None]:
    """Any ERROR logged by discord.py or the bot fails the test (unless it is marked `allow_error_logs`)."""
    with capture_error_logs("discord", "bot", "cogs", "aiohttp", "asyncio") as logs:
        yield
    if request.node.get_closest_marker("allow_error_logs") is None:
        logs.assert_clean()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "allow_error_logs: the test expects ERROR log records")
