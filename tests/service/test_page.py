"""The demo page in headless Chromium: type a sentence, read the translation off the page."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from service.app import create_app
from service.settings import ServiceSettings
from tests.service.browser import headless_chromium, needs_chromium
from tests.service.conftest import FakeTranslator, live_server

pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
pytestmark = needs_chromium


@contextmanager
def page_after_translating(
    tmp_path: Path, field: str, value: str
) -> Iterator[tuple[Any, str, Any]]:
    """The page (on a fake model) after "The cat is black." was translated with `field`
    set to `value`; yields the browser, the server's URL and a 20-second waiter."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    app = create_app(ServiceSettings(), translator=FakeTranslator())
    with live_server(app) as url:
        browser = headless_chromium(tmp_path / "profile")
        try:
            browser.get(url + "/")
            wait = WebDriverWait(browser, 20)
            wait.until(ec.text_to_be_present_in_element((By.ID, "model-name"), "fake-en-fr"))
            browser.find_element(By.ID, "source").send_keys("The cat is black.")
            box = browser.find_element(By.ID, field)
            box.clear()
            box.send_keys(value)
            browser.find_element(By.ID, "translate").click()
            yield browser, url, wait
        finally:
            browser.quit()


def test_typing_a_sentence_shows_translation_alternatives_and_heatmap(tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    with page_after_translating(tmp_path, "beam", "3") as (browser, _, wait):
        wait.until(ec.text_to_be_present_in_element((By.ID, "output"), "le chat est noir."))
        assert browser.find_element(By.ID, "output").text == "le chat est noir."
        alternatives = browser.find_elements(By.CSS_SELECTOR, "#alternatives .alt-text")
        assert [a.text for a in alternatives] == [
            "le chat est noir. [1]",
            "le chat est noir. [2]",
        ]
        rows = browser.find_elements(By.CSS_SELECTOR, "#heatmap tr")
        assert len(rows) == 1 + 5  # header + 4 target pieces + </s>


def test_n_best_on_the_page_means_what_it_means_in_the_api(tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    with page_after_translating(tmp_path, "nbest", "2") as (browser, url, wait):
        wait.until(ec.text_to_be_present_in_element((By.ID, "score"), "score"))
        api = httpx.post(url + "/v1/translate", json={"text": "The cat is black.", "n_best": 2})
        item = api.json()["translations"][0]
        assert browser.find_element(By.ID, "score").text == f"score {item['score']:.2f}"
        shown = browser.find_elements(By.CSS_SELECTOR, "#alternatives li")
        assert [li.text for li in shown] == [
            f"{a['text']} ({a['score']:.2f})" for a in item["alternatives"]
        ]
        assert len(shown) == 1
