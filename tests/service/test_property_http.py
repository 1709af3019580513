"""Property: arbitrary Unicode through both HTTP APIs never gives a 5xx nor harms others.

Texts mix any code points with lone surrogates (sent as JSON escapes, or as the invalid
UTF-8 bytes of one in a form), controls, zero-width and bidi marks, every kind of line
break, markup characters and very long tokens. Each hostile request is sent together with
a well-formed one, which the batcher may merge with it. For every hostile request: no 5xx;
a 200 carries one output per input text; only a text that is not valid Unicode (a lone
surrogate, which the fake model fails on as sentencepiece does) may be refused, with a 4xx
naming it. The well-formed request always gets its exact translation.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from nmt.translator import load_translator
from service.app import create_app
from service.settings import ServiceSettings
from tests.service.conftest import PoisonedTranslator, fake_sentence, live_server

LIMITS = ServiceSettings(max_wait_ms=20.0, default_beam_size=2, max_texts=6, max_chars=5000)
SPECIAL = [
    *("\ud83d", "\udc00", "\udfff", "\ud800\ud800"),  # lone surrogates
    *("\x00", "\x07", "\x1b", "\x7f", "\x85", "\x9f", "\t", "\x0b", "\x0c"),  # controls
    *("\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad"),  # zero-width, soft hyphen
    *("\u200e", "\u200f", "\u202a", "\u202e", "\u2066", "\u2069"),  # bidi marks
    *("\n", "\r", "\r\n", "\n\n", "\u2028", "\u2029"),  # line breaks
    *("<", ">", "&", "&amp;", "<b>", "</p>", "<script>", "&#0;", "&#xD800;"),  # markup
    *(".", "?!", "…", " ", "\u00a0", "😀", "e\u0301", "ﬁ", "Ⅻ"),
]
_PIECE = st.one_of(
    st.text(max_size=12),  # any code point but surrogates
    st.sampled_from(SPECIAL),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=300, max_size=2000),  # one token
    st.just("Hello world. "),
)
TEXT = st.lists(_PIECE, max_size=8).map("".join)
TEXTS = st.lists(TEXT, min_size=1, max_size=LIMITS.max_texts)
GOOD = {"text": "Hello world. The cat is black."}
LONE_SURROGATE = re.compile("[\ud800-\udfff]")
JSON = {"content-type": "application/json"}
FORM = {"content-type": "application/x-www-form-urlencoded"}


@pytest.fixture(scope="module")
def fake_server() -> Iterator[httpx.Client]:
    """A client of a live server of the fake model (one for the module: cheap examples)."""
    with (
        live_server(create_app(LIMITS, translator=PoisonedTranslator())) as url,
        httpx.Client(base_url=url, timeout=60) as client,
    ):
        yield client


def _json(payload: dict) -> bytes:
    """JSON with every non-ASCII character escaped: a lone surrogate travels as \\udXXX."""
    return json.dumps(payload, ensure_ascii=True).encode("ascii")


def _form(payload: dict) -> bytes:
    """A URL-encoded form; a lone surrogate travels as its (invalid UTF-8) bytes."""
    return urllib.parse.urlencode(payload, doseq=True, errors="surrogatepass").encode("ascii")


def _with_a_good_request(
    client: httpx.Client, path: str, body: bytes, headers: dict
) -> httpx.Response:
    """POST the body and, at the same time, a well-formed v1 request that must succeed."""
    with ThreadPoolExecutor(2) as pool:
        hostile = pool.submit(client.post, path, content=body, headers=headers)
        good = pool.submit(client.post, "/v1/translate", json=GOOD)
        response, good_response = hostile.result(), good.result()
    assert good_response.status_code == 200, good_response.text
    assert good_response.json()["translations"][0]["text"] == fake_sentence(GOOD["text"])
    return response


def _check(response: httpx.Response, texts: list[str], refusable: bool) -> list[str] | None:
    """No 5xx; a refusal only for a text over max_chars (naming the limit) or when allowed
    (naming the surrogate); else the outputs."""
    assert response.status_code < 500, response.text
    if response.status_code != 200 and response.json().get("limit") == "max_chars":
        assert any(len(text) > LIMITS.max_chars for text in texts), response.text
        return None
    if response.status_code != 200:
        assert refusable, (response.status_code, response.text, texts)
        assert response.status_code in (400, 422)
        assert "not valid Unicode: a lone surrogate" in response.json()["error"]
        return None
    return texts


def _has_surrogate(texts: list[str]) -> bool:
    return any(LONE_SURROGATE.search(text) for text in texts)


PROPERTY = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@PROPERTY
@given(texts=TEXTS, text_format=st.sampled_from(["text", "html"]))
@example(texts=["a" * (LIMITS.max_chars + 1)], text_format="text")  # refused: over the limit
def test_v1_json(fake_server: httpx.Client, texts: list[str], text_format: str) -> None:
    body = _json({"text": texts, "format": text_format})
    response = _with_a_good_request(fake_server, "/v1/translate", body, JSON)
    if _check(response, texts, _has_surrogate(texts)) is not None:
        outputs = response.json()["translations"]
        assert len(outputs) == len(texts)
        assert all(isinstance(item["text"], str) for item in outputs)


@PROPERTY
@given(texts=TEXTS, text_format=st.sampled_from(["text", "html"]), single=st.booleans())
@example(texts=["a" * (LIMITS.max_chars + 1)], text_format="text", single=True)
def test_libretranslate_json(
    fake_server: httpx.Client, texts: list[str], text_format: str, single: bool
) -> None:
    q: str | list[str] = texts[0] if single else texts
    body = _json({"q": q, "source": "en", "target": "fr", "format": text_format})
    response = _with_a_good_request(fake_server, "/translate", body, JSON)
    if q == "":  # LibreTranslate's rule for an empty q
        assert response.status_code == 400 and "missing q" in response.json()["error"]
        return
    if _check(response, texts, _has_surrogate(texts)) is not None:
        translated = response.json()["translatedText"]
        if single:
            assert isinstance(translated, str)
        else:
            assert isinstance(translated, list) and len(translated) == len(texts)


@PROPERTY
@given(texts=TEXTS)
def test_libretranslate_form(fake_server: httpx.Client, texts: list[str]) -> None:
    body = _form({"q": texts, "source": "en", "target": "fr"})
    response = _with_a_good_request(fake_server, "/translate", body, FORM)
    if all(text == "" for text in texts[:1]) and len(texts) == 1:
        assert response.status_code == 400  # an empty q: LibreTranslate's "missing q"
        return
    if response.status_code == 400 and response.json().get("limit") == "max_chars":
        # LibreTranslate's limit counts the whole q: a refusal only for long enough input
        assert sum(len(text) for text in texts) > LIMITS.max_chars, response.text
        return
    # a form's invalid bytes are decoded as U+FFFD: nothing left to refuse
    assert _check(response, texts, refusable=False) is not None
    translated = response.json()["translatedText"]
    expected = 1 if len(texts) == 1 else len(texts)
    assert (1 if isinstance(translated, str) else len(translated)) == expected
    assert "\r" not in "".join(translated)  # form line breaks arrive as LF


@pytest.fixture(scope="module")
def real_model_url(shipped_model_dir: Path) -> Iterator[str]:
    app = create_app(
        ServiceSettings(default_beam_size=1), load_translator(shipped_model_dir, "cpu")
    )
    with live_server(app) as url:
        yield url


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts=st.lists(TEXT, min_size=1, max_size=3))
def test_real_model_v1_json(real_model_url: str, texts: list[str]) -> None:
    body = _json({"text": texts})
    response = httpx.post(real_model_url + "/v1/translate", content=body, headers=JSON, timeout=300)
    if _check(response, texts, _has_surrogate(texts)) is not None:
        assert len(response.json()["translations"]) == len(texts)
