"""Hostile input against the real default limits: always a 4xx with a JSON body, never a 5xx."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.settings import ServiceSettings
from tests.service.conftest import FakeTranslator

NESTING = 10_000


@pytest.fixture
def default_client() -> Iterator[TestClient]:
    """The service with its shipped default limits (not the test's tightened ones)."""
    with TestClient(create_app(ServiceSettings(), translator=FakeTranslator())) as client:
        yield client


def _assert_client_error(response, statuses: set[int]) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code in statuses, (response.status_code, response.text[:200])
    assert isinstance(response.json(), dict)


def test_deeply_nested_json(default_client: TestClient) -> None:
    body = b'{"text": ' + b"[" * NESTING + b"]" * NESTING + b"}"
    _assert_client_error(
        default_client.post(
            "/v1/translate", content=body, headers={"content-type": "application/json"}
        ),
        {400, 422},
    )
    _assert_client_error(
        default_client.post(
            "/translate", content=body, headers={"content-type": "application/json"}
        ),
        {400},
    )


def test_invalid_utf8_and_control_characters(default_client: TestClient) -> None:
    invalid = b'{"text": "caf\xe9 \xff\xfe"}'
    _assert_client_error(
        default_client.post(
            "/v1/translate", content=invalid, headers={"content-type": "application/json"}
        ),
        {400, 422},
    )
    _assert_client_error(
        default_client.post(
            "/translate",
            content=b"q=caf%E9%FF&source=en&target=fr",
            headers={"content-type": "application/x-www-form-urlencoded"},
        ),
        {200, 400},
    )
    controls = default_client.post("/v1/translate", json={"text": "a\x00b\x07c\x1b[31m\u202ed"})
    assert controls.status_code == 200 and isinstance(
        controls.json()["translations"][0]["text"], str
    )


def test_ten_thousand_tiny_texts_hit_the_text_limit(default_client: TestClient) -> None:
    response = default_client.post("/v1/translate", json={"text": ["a"] * 10_000})
    _assert_client_error(response, {413})
    assert response.json()["limit"] == "max_texts"
    _assert_client_error(
        default_client.post(
            "/translate", json={"q": ["a"] * 10_000, "source": "en", "target": "fr"}
        ),
        {400, 413},
    )


@pytest.mark.parametrize("beam", [0, -1, 17, 1000, 2.5, "five", [5]])
def test_out_of_range_beam_sizes(default_client: TestClient, beam: object) -> None:
    response = default_client.post("/v1/translate", json={"text": "hello", "beam_size": beam})
    _assert_client_error(response, {422})


def test_huge_body_is_refused_before_parsing(default_client: TestClient) -> None:
    body = b'{"text": "' + b"a" * 5_000_000 + b'"}'
    response = default_client.post(
        "/v1/translate", content=body, headers={"content-type": "application/json"}
    )
    _assert_client_error(response, {413})
    assert response.json()["limit"] == "max_body_bytes"


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/xml",
        "image/png",
        "application/json; charset=latin-1",
        "multipart/form-data",
    ],
)
def test_wrong_content_types(default_client: TestClient, content_type: str) -> None:
    response = default_client.post(
        "/v1/translate", content=b'{"text": "hi"}', headers={"content-type": content_type}
    )
    assert response.status_code < 500, (content_type, response.status_code)
    lt = default_client.post(
        "/translate", content=b"\x89PNG\r\n", headers={"content-type": content_type}
    )
    assert lt.status_code < 500, (content_type, lt.status_code)


def test_streamed_body_without_length_over_the_limit_is_413() -> None:
    settings = ServiceSettings(max_body_bytes=1000)
    with TestClient(create_app(settings, translator=FakeTranslator())) as client:

        def chunks() -> Iterator[bytes]:
            yield b'{"text": "'
            for _ in range(50):
                yield b"a" * 100
            yield b'"}'

        for path in ("/v1/translate", "/translate"):
            response = client.post(
                path, content=chunks(), headers={"content-type": "application/json"}
            )
            assert response.status_code == 413, (path, response.text)
            assert response.json()["limit"] == "max_body_bytes"


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/v1/translate", b'{"text": "<script>\\ud83d</script>", "format": "html"}', 422),
        (
            "/translate",
            b'{"q": "<SCRIPT>\\ud83d", "source": "en", "target": "fr", "format": "html"}',
            400,
        ),
        (
            "/translate",
            b'{"q": "Bonjour \\ud83d le monde.", "source": "auto", "target": "fr"}',
            400,
        ),
    ],
)
def test_a_lone_surrogate_the_model_never_sees_is_refused_by_name(
    default_client: TestClient, path: str, body: bytes, status: int
) -> None:
    """Markup kept as written, or a text given back untranslated, cannot carry one in JSON."""
    response = default_client.post(path, content=body, headers={"content-type": "application/json"})
    _assert_client_error(response, {status})
    assert "not valid Unicode: a lone surrogate (U+D83D)" in response.json()["error"]
