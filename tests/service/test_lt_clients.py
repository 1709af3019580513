"""LibreTranslate's Python clients, unchanged, against a live server; and a clean access log.

libretranslatepy (urllib, JSON), libretranslate-aio (httpx, forms; sync and async) and
deep-translator's LibreTranslator (requests, everything in the query string).
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Iterator

import pytest
from deep_translator import LibreTranslator
from deep_translator.exceptions import AuthorizationException
from libretranslate_aio import (
    AsyncLibreTranslate,
    BadRequestError,
    ForbiddenError,
    LibreTranslate,
)
from libretranslatepy import LibreTranslateAPI

from service.access_log import ACCESS_LOGGER, redact_query
from service.app import create_app
from service.settings import ServiceSettings
from tests.service.conftest import FakeTranslator, live_server

KEY = "s3cret-key"
TEXT = "Hello world. The cat is black."
TRANSLATED = "bonjour monde. le chat est noir."


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    """A server requiring KEY, its access log on."""
    app = create_app(ServiceSettings(api_keys=[KEY]), translator=FakeTranslator())
    with live_server(app, log_level="info") as base:
        yield base


def test_libretranslatepy(url: str) -> None:
    api = LibreTranslateAPI(url, api_key=KEY)
    assert api.translate(TEXT, "en", "fr") == TRANSLATED
    assert api.detect("The cat is on the table.")[0]["language"] == "en"
    assert [language["code"] for language in api.languages()] == ["en", "fr"]


def test_libretranslate_aio_sync(url: str) -> None:
    with LibreTranslate(url, api_key=KEY) as client:
        assert client.translate(TEXT, "en", "fr").translated_text == TRANSLATED
        several = client.translate([TEXT, "Good morning."], "en", "fr", alternatives=2)
        assert several.translated_text == [TRANSLATED, "bon matin."]
        assert several.alternatives == [
            [f"bonjour monde. [{k}] le chat est noir. [{k}]" for k in (1, 2)],
            ["bon matin. [1]", "bon matin. [2]"],
        ]
        assert client.detect("Le chat est noir.")[0].language == "fr"
        settings = client.frontend_settings()
        assert (settings.api_keys, settings.key_required, settings.suggestions) == (
            True,
            True,
            False,
        )
        assert client.health()
        with pytest.raises(ForbiddenError, match="Suggestions are disabled on this server."):
            client.suggest("Hello.", "Bonjour.", "en", "fr")
        with pytest.raises(ForbiddenError, match="Files translation are disabled"):
            client.translate_file(io.BytesIO(b"Hello."), "en", "fr")
    with LibreTranslate(url) as keyless, pytest.raises(BadRequestError, match="get an API key"):
        keyless.translate(TEXT, "en", "fr")
    with LibreTranslate(url, api_key="wrong") as wrong, pytest.raises(ForbiddenError):
        wrong.translate(TEXT, "en", "fr")


def test_libretranslate_aio_async(url: str) -> None:
    async def scenario() -> list[str]:
        async with AsyncLibreTranslate(url, api_key=KEY) as client:
            done = await asyncio.gather(*(client.translate(TEXT, "en", "fr") for _ in range(4)))
            return [translation.translated_text for translation in done]

    assert asyncio.run(scenario()) == [TRANSLATED] * 4


def test_deep_translator(url: str) -> None:
    translator = LibreTranslator(source="en", target="fr", api_key=KEY, custom_url=url + "/")
    assert translator.translate(TEXT) == TRANSLATED
    assert translator.translate_batch([TEXT, "Good morning."]) == [TRANSLATED, "bon matin."]
    wrong = LibreTranslator(source="en", target="fr", api_key="wrong", custom_url=url + "/")
    with pytest.raises(AuthorizationException):
        wrong.translate(TEXT)


def test_access_log_never_holds_text_or_keys(url: str) -> None:
    secret_text = "Meet me at the old mill at midnight."
    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record.getMessage())

    keep = Keep()
    logging.getLogger(ACCESS_LOGGER).addHandler(keep)
    try:
        translator = LibreTranslator(source="en", target="fr", api_key=KEY, custom_url=url + "/")
        translator.translate(secret_text)  # q and api_key in the query string
        with LibreTranslate(url, api_key="wrong-" + KEY) as wrong, pytest.raises(ForbiddenError):
            wrong.translate(secret_text, "en", "fr")
    finally:
        logging.getLogger(ACCESS_LOGGER).removeHandler(keep)
    assert len(records) == 2, records
    assert (
        "POST /translate?q=[redacted]&source=en&target=fr&format=text&api_key=[redacted]"
        in (records[0])
    )
    for line in records:
        for word in ("midnight", "Meet", "mill", KEY):
            assert word not in line, line


@pytest.mark.parametrize(
    ("path", "logged"),
    [
        ("/translate", "/translate"),
        ("/translate?source=en&target=fr", "/translate?source=en&target=fr"),
        ("/translate?q=Hi+there&api_key=k", "/translate?q=[redacted]&api_key=[redacted]"),
        ("/translate?%71=Hi&API_KEY=k", "/translate?%71=[redacted]&API_KEY=[redacted]"),
        ("/translate?Dear+John&x=1&source", "/translate?[redacted]&[redacted]&source"),
        ("/suggest?q=a&s=b&secret=c", "/suggest?q=[redacted]&s=[redacted]&secret=[redacted]"),
    ],
)
def test_redact_query(path: str, logged: str) -> None:
    assert redact_query(path) == logged
