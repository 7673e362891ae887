"""On a failure in an end-to-end test, attach the server's output to the report."""

from __future__ import annotations

from collections.abc import Generator

import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator:
    outcome = yield
    report = outcome.get_result()
    server = getattr(item, "funcargs", {}).get("server")
    if report.failed and server is not None:
        report.sections.append(("gunicorn output (last 200 lines)", _tail(server.log(), 200)))


def _tail(text: str, lines: int) -> str:
    return "\n".join(text.splitlines()[-lines:])
