"""`/docs` works without internet: Swagger UI's assets come from the server itself."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

from service.app import create_app
from service.settings import ServiceSettings
from tests.service.browser import OFFLINE, headless_chromium, needs_chromium
from tests.service.conftest import FakeTranslator, live_server

ASSET = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']|url:\s*["']([^"']+)["']""")


def test_docs_pages_load_their_assets_from_this_server(client: TestClient) -> None:
    for page in ("/docs", "/redoc"):
        html = client.get(page)
        assert html.status_code == 200
        assets = [a or b for a, b in ASSET.findall(html.text)]
        assert assets, page
        for asset in assets:
            assert asset.startswith("/"), f"{page} loads {asset} from elsewhere"
            if asset != "/openapi.json":
                served = client.get(asset)
                assert served.status_code == 200 and len(served.content) > 1000, asset


@needs_chromium
def test_swagger_ui_renders_the_operations_offline(tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    app = create_app(ServiceSettings(), translator=FakeTranslator())
    with live_server(app) as url:
        browser = headless_chromium(tmp_path / "profile", OFFLINE)
        try:
            browser.get(url + "/docs")
            selector = (By.CSS_SELECTOR, ".opblock-summary-path")
            WebDriverWait(browser, 30).until(lambda b: len(b.find_elements(*selector)) >= 5)
            paths = {e.get_attribute("data-path") for e in browser.find_elements(*selector)}
            assert {"/v1/translate", "/translate", "/detect", "/languages"} <= paths
            loaded = browser.execute_script(
                "return performance.getEntriesByType('resource').map(e => e.name)"
            )
            assert loaded and all(name.startswith(url) for name in loaded), loaded
        finally:
            browser.quit()
