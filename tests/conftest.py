"""Shared fixtures: a real service on a free port with its own data directory."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.helpers import RunningService, start_service
from tests.postgres import PostgresCluster, start_cluster


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    """One service per test module (tests inside a module must not depend on each other's data)."""
    running = start_service(tmp_path_factory.mktemp("agent"))
    yield running
    running.stop()


@pytest.fixture(scope="session")
def display() -> Iterator[str]:
    """One Xvfb for every test that runs Tk in this process. Tk keeps a display's X connection until the
    process exits, and a server that goes away under it ends the whole test process at the next Tk event
    ("XIO: fatal IO error"), so the server outlives every in-process window."""
    from tests.ui_helpers import start_xvfb

    xvfb = start_xvfb()
    yield xvfb.display
    xvfb.close()


@pytest.fixture
def fresh_service(tmp_path) -> Iterator[RunningService]:
    running = start_service(tmp_path / "agent")
    yield running
    running.stop()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Keep each phase's report on the test item (item.report_call...), so a fixture's teardown can tell
    whether its test failed and add what it knows (tests/test_tray.py prints the tray's threads and logs)."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run when any secret the run created is in any log file under basetemp (tests/secret_leaks.py).
    Runs after every fixture's teardown, so the services have stopped and flushed their logs."""
    from tests.helpers import CREATED_SECRETS
    from tests.secret_leaks import find_leaks

    factory = getattr(session.config, "_tmp_path_factory", None)
    basetemp = getattr(factory, "_basetemp", None)  # None: no test asked for a temporary directory
    if basetemp is None:
        return
    leaks = find_leaks(basetemp, CREATED_SECRETS)
    if not leaks:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    lines = [f"{path}: {kind}" for path, kind in sorted(set(leaks))]
    if reporter is not None:
        reporter.write_sep("=", "secrets found in logs (file: kind of secret; the secret itself is not shown)",
                           red=True)
        for line in lines:
            reporter.write_line(line, red=True)
    else:
        print("secrets found in logs:", *lines, sep="\n")
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    from tests.ui_helpers import SCREENSHOTS

    if SCREENSHOTS.exists() and any(SCREENSHOTS.glob("*.png")):
        terminalreporter.write_line(f"window screenshots: {SCREENSHOTS}")


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    """A private PostgreSQL cluster for the whole run (started only when a test asks for it)."""
    cluster = start_cluster()
    yield cluster
    cluster.stop()


# -- the browser extension in a real Chromium (tests/extension_helpers.py) ------------------------------------


@pytest.fixture(scope="module")
def playwright_driver():
    """Playwright for Python (it drives Debian's /usr/bin/chromium: no browser download). Per module: its sync API
    keeps an asyncio loop marked running on this thread until it stops, which later asyncio users would trip on."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def fake_whatsapp(tmp_path_factory: pytest.TempPathFactory):
    """The fake WhatsApp Web over HTTPS on a loopback port (also serves the ordinary site shop.example.net)."""
    from tests.extension_helpers import FakeWhatsApp

    server = FakeWhatsApp(tmp_path_factory.mktemp("fake-whatsapp"))
    yield server
    server.stop()
