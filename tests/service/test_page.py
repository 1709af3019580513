"""The demo page in headless Chromium: type a sentence, read the translation off the page."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from service.app import create_app
from service.settings import ServiceSettings
from tests.service.conftest import FakeTranslator, live_server

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")

pytestmark = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="needs chromium and chromedriver (apt-get install chromium chromium-driver)",
)


def _browser(profile: Path):  # type: ignore[no-untyped-def]
    """Headless Chromium with no network chatter beyond the page."""
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
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
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    service = webdriver.ChromeService(executable_path=str(CHROMEDRIVER))
    return webdriver.Chrome(options=options, service=service)


def test_typing_a_sentence_shows_translation_alternatives_and_heatmap(tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    app = create_app(ServiceSettings(), translator=FakeTranslator())
    with live_server(app) as url:
        browser = _browser(tmp_path / "profile")
        try:
            browser.get(url + "/")
            wait = WebDriverWait(browser, 20)
            wait.until(ec.text_to_be_present_in_element((By.ID, "model-name"), "fake-en-fr"))
            browser.find_element(By.ID, "source").send_keys("The cat is black.")
            beam = browser.find_element(By.ID, "beam")
            beam.clear()
            beam.send_keys("3")
            browser.find_element(By.ID, "translate").click()
            wait.until(ec.text_to_be_present_in_element((By.ID, "output"), "le chat est noir."))
            assert browser.find_element(By.ID, "output").text == "le chat est noir."
            alternatives = browser.find_elements(By.CSS_SELECTOR, "#alternatives .alt-text")
            assert [a.text for a in alternatives] == [
                "le chat est noir. [1]",
                "le chat est noir. [2]",
            ]
            rows = browser.find_elements(By.CSS_SELECTOR, "#heatmap tr")
            assert len(rows) == 1 + 5  # header + 4 target pieces + </s>
        finally:
            browser.quit()
