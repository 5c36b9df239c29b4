"""`cliniko-connector console` in a real browser: Debian's headless Chromium, driven by Selenium through Debian's
chromedriver (never a downloaded browser or driver: scripts/ensure-chromium.sh installs both), against the local
stack (moto server, the Cliniko simulator, the real handlers). One browser session walks every page: they load, a
new patient's event appears on the events page while it is open (it follows live), a failed action shows under
failures and its redrive (token and confirmation) clears it, and the connection's `minimal` payload mode keeps the
patient's fields off every page. A screenshot of each page is written under .artifacts/console/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cliniko_tools.console.backend import StackBackend
from cliniko_tools.console.server import ConsoleServer
from tests.e2e.cli.conftest import CONNECTION, ROOT, Stack

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = ROOT / ".artifacts" / "console"
WAIT_SECONDS = 30  # the longest a condition is waited for (the events page refetches every 5 s)
FIRST_NAME = "Adalinda"  # a patient's field that must never reach a page in minimal mode


@pytest.fixture
def browser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    assert CHROMIUM.exists() and CHROMEDRIVER.exists(), "no Chromium: run scripts/ensure-chromium.sh (as root)"
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    monkeypatch.setenv("SE_OFFLINE", "true")  # Selenium Manager must never download a browser or a driver
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # to see any Content-Security-Policy refusal
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,900",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))
    driver.set_page_load_timeout(WAIT_SECONDS)
    try:
        yield driver
    finally:
        driver.quit()


def shoot(driver: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    driver.save_screenshot(str(path))
    print(f"screenshot: {path}")
    return path


def test_the_console_shows_the_local_stack_follows_new_events_and_redrives_a_failure(
    stack: Stack, browser: Any
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    wait = WebDriverWait(browser, WAIT_SECONDS)
    stack.connect("medical_alert.create")
    assert stack.cli("connections", "set", CONNECTION, "--payload-mode", "minimal").code == 0
    assert stack.cli("triggers", "enable", CONNECTION, "patient.created").code == 0
    # The example rule turns every new patient into a medical alert; Cliniko fails it for good.
    stack.sim.faults.inject("server_error", paths=["/medical_alerts"])
    (ada,) = [stack.sim.create("patients", {"first_name": FIRST_NAME, "last_name": "Console"})]
    assert stack.cli("poll").code == 0
    stack.run()
    stack.runner.drain_archive()
    assert stack.depth("ActionFailureQueue") == 1

    backend = StackBackend(stack.state_path, automations_path=str(ROOT / "automations" / "recipes"))
    with ConsoleServer(backend, port=0) as console:
        base = console.url.rstrip("/")
        pages: dict[str, str] = {}

        browser.get(f"{base}/connections")
        assert "Northside Physio" not in browser.page_source  # not before the printed address was opened
        browser.get(console.login_url)
        assert browser.current_url == f"{base}/connections"
        assert "Northside Physio" in browser.page_source and "minimal" in browser.page_source
        pages["connections"] = browser.page_source
        shoot(browser, "connections")

        browser.get(f"{base}/streams")
        assert browser.find_elements(By.CSS_SELECTOR, "svg rect.bar")
        pages["streams"] = browser.page_source
        shoot(browser, "streams")

        browser.get(f"{base}/events")
        assert f"patients/{ada['id']}" in browser.find_element(By.ID, "event-rows").text
        # A patient added while the page is open appears without a reload.
        bob = stack.sim.create("patients", {"first_name": "Bobbington", "last_name": "Console"})
        assert stack.cli("poll").code == 0
        stack.runner.drain_archive()
        wait.until(lambda d: f"patients/{bob['id']}" in d.find_element(By.ID, "event-rows").text)
        pages["events"] = browser.page_source
        shoot(browser, "events")
        browser.find_element(By.LINK_TEXT, browser.find_element(By.CSS_SELECTOR, "#event-rows a").text).click()
        wait.until(lambda d: "Payload mode" in d.page_source)
        assert "minimal" in browser.page_source
        pages["event"] = browser.page_source
        shoot(browser, "event")

        browser.get(f"{base}/failures")
        row = browser.find_element(By.CSS_SELECTOR, "tr.failure")
        assert "action medical_alert.create" in row.text and "ClinikoServerError" in row.text
        pages["failures"] = browser.page_source
        shoot(browser, "failures")
        stack.sim.faults.clear()  # Cliniko is back
        row.find_element(By.LINK_TEXT, "Redrive…").click()
        browser.find_element(By.NAME, "token").send_keys(console.token)
        shoot(browser, "failures-confirm")
        browser.find_element(By.ID, "confirm").click()
        wait.until(lambda d: "Sent back" in d.page_source)
        assert "again" in browser.find_element(By.TAG_NAME, "main").text
        stack.run()  # the redriven action, and Bob's, which was still queued when Cliniko came back
        alerted = {a["patient"]["links"]["self"].rsplit("/", 1)[-1] for a in stack.sim.list("medical_alerts")}
        assert alerted == {str(ada["id"]), str(bob["id"])}
        browser.get(f"{base}/failures")
        assert "Nothing failed" in browser.page_source

        browser.get(f"{base}/automations")
        Select(browser.find_element(By.NAME, "automation")).select_by_visible_text("new-patient-welcome")
        browser.find_element(By.ID, "try").click()
        wait.until(lambda d: "receives" in d.page_source)
        assert "Matches" in browser.page_source
        pages["automations"] = browser.page_source
        shoot(browser, "automations")

        # No page ever showed the patients' fields: the connection publishes in minimal mode.
        for name, html in pages.items():
            assert FIRST_NAME not in html and "Bobbington" not in html, name
        # The pages work under their own policy: nothing they use was refused by it.
        refusals = [m["message"] for m in browser.get_log("browser") if "Content Security Policy" in m["message"]]
        assert not refusals


def test_the_console_command_prints_its_loopback_address_and_token_and_serves_the_stack(stack: Stack) -> None:
    import http.cookiejar
    import subprocess
    import sys
    import urllib.error
    import urllib.request

    stack.connect()
    command = [str(Path(sys.executable).with_name("cliniko-connector")), "console", "--port", "0"]
    console = subprocess.Popen(
        command, cwd=stack.root, env=stack.subprocess_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert console.stdout is not None
        first, second = console.stdout.readline(), console.stdout.readline()
        assert first.startswith("console of the local stack (") and "; open http://127.0.0.1:" in first, first
        login = first.rsplit(" ", 1)[-1].strip()
        url = login.split("login?", 1)[0]
        token = second.rsplit(" ", 1)[-1].strip()
        assert second.startswith("write token (redrive, enable/disable): ") and len(token) >= 32
        with pytest.raises(urllib.error.HTTPError) as stranger:  # without the printed address: nothing
            urllib.request.urlopen(f"{url}connections", timeout=WAIT_SECONDS)
        assert stranger.value.code == 401
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        with browser.open(login, timeout=WAIT_SECONDS) as page:  # logs in, then shows the connections
            assert "Northside Physio" in page.read().decode()
        refused = urllib.request.Request(
            f"{url}connections/{CONNECTION}/change", data=b"change=disable&confirm=yes", method="POST"
        )
        with pytest.raises(urllib.error.HTTPError) as answer:
            browser.open(refused, timeout=WAIT_SECONDS)
        assert answer.value.code == 403
    finally:
        console.terminate()
        console.wait(timeout=WAIT_SECONDS)
    assert stack.cli("connections", "show", CONNECTION, "--json").json["status"] == "active"
