"""The LibreTranslate-compatible API: four request styles, errors, html, and the real client."""

from __future__ import annotations

from urllib.error import HTTPError

import pytest
from fastapi.testclient import TestClient
from libretranslatepy import LibreTranslateAPI

from service.app import create_app
from service.settings import ServiceSettings
from tests.service.conftest import FakeTranslator, live_server

PARAMS = {"q": "Hello world.", "source": "en", "target": "fr"}


def test_json_form_multipart_and_query_give_the_same_answer(client: TestClient) -> None:
    answers = [
        client.post("/translate", json=PARAMS),
        client.post("/translate", data=PARAMS),
        client.post("/translate", data=PARAMS, files={"unused": ("a.txt", b"x")}),
        client.post("/translate", params=PARAMS),
    ]
    assert [a.status_code for a in answers] == [200] * 4
    assert [a.json() for a in answers] == [{"translatedText": "bonjour monde."}] * 4


def test_list_alternatives_and_auto_detection(client: TestClient, fake: FakeTranslator) -> None:
    body = {"q": ["Hello world.", "Le chat est noir."], "source": "auto", "target": "fr"}
    answer = client.post("/translate", json={**body, "alternatives": 2}).json()
    assert answer["translatedText"] == ["bonjour monde.", "Le chat est noir."]  # already French
    assert answer["alternatives"] == [["bonjour monde. [1]", "bonjour monde. [2]"], []]
    assert [d["language"] for d in answer["detectedLanguage"]] == ["en", "fr"]
    assert fake.calls[-1][1].n_best == 3 and fake.calls[-1][0] == 1
    single = client.post("/translate", data={"q": "The cat.", "source": "auto", "target": "fr"})
    assert single.json()["detectedLanguage"] == {"confidence": 100.0, "language": "en"}


def test_html_format_keeps_markup(client: TestClient) -> None:
    html = '<p class="a">Hello &amp; world. <b>The cat</b></p><script>x = "Hello";</script>'
    answer = client.post("/translate", json={**PARAMS, "q": html, "format": "html"}).json()
    expected = '<p class="a">bonjour &amp; monde. <b>le chat</b></p><script>x = "Hello";</script>'
    assert answer["translatedText"] == expected


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"source": "en", "target": "fr"}, "missing q parameter"),
        ({"q": "Hi", "target": "fr"}, "missing source parameter"),
        ({"q": "Hi", "source": "en"}, "missing target parameter"),
        ({"q": "Hi", "source": "en", "target": "de"}, "de is not supported"),
        ({"q": "Hi", "source": "fr", "target": "en"}, "en is not available as a target"),
        ({"q": "Hi", "source": "en", "target": "fr", "format": "pdf"}, "pdf format is not"),
        ({"q": "Hi", "source": "en", "target": "fr", "alternatives": "x"}, "alternatives"),
        ({"q": "a" * 201, "source": "en", "target": "fr"}, "max_chars=200"),
        ({"q": ["a"] * 5, "source": "en", "target": "fr"}, "max_texts=4"),
    ],
)
def test_errors_are_400_with_libretranslate_shape(
    client: TestClient, params: dict, message: str
) -> None:
    response = client.post("/translate", json=params)
    assert response.status_code == 400
    assert message in response.json()["error"]


def test_malformed_bodies_are_400(client: TestClient) -> None:
    headers = {"content-type": "application/json"}
    assert client.post("/translate", content=b"{oops", headers=headers).status_code == 400
    assert client.post("/translate", content=b"[1, 2]", headers=headers).status_code == 400
    bad_multipart = {"content-type": "multipart/form-data; boundary=zz"}
    response = client.post("/translate", content=b"--zz\r\ngarbage", headers=bad_multipart)
    assert response.status_code == 400 and "error" in response.json()


def test_api_key_in_params_or_header() -> None:
    settings = ServiceSettings(api_keys=["k1"])
    with TestClient(create_app(settings, translator=FakeTranslator())) as client:
        refused = client.post("/translate", json=PARAMS)
        assert refused.status_code == 403 and refused.json() == {"error": "Invalid API key"}
        assert client.post("/translate", json={**PARAMS, "api_key": "no"}).status_code == 403
        assert client.post("/translate", json={**PARAMS, "api_key": "k1"}).status_code == 200
        assert client.post("/translate", params={**PARAMS, "api_key": "k1"}).status_code == 200
        header = {"Authorization": "Bearer k1"}
        assert client.post("/translate", data=PARAMS, headers=header).status_code == 200
        assert client.post("/detect", data={"q": "Hi"}).status_code == 403
        assert client.get("/frontend/settings").json()["keyRequired"] is True


def test_detect_languages_and_frontend_settings(client: TestClient) -> None:
    detected = client.post("/detect", json={"q": "Le chat est sur la table."}).json()
    assert detected[0]["language"] == "fr" and detected[0]["confidence"] > 50
    assert client.post("/detect", json={}).status_code == 400
    languages = client.get("/languages").json()
    assert languages[0] == {"code": "en", "name": "English", "targets": ["fr"]}
    settings = client.get("/frontend/settings").json()
    assert settings["charLimit"] == 200 and settings["keyRequired"] is False
    assert settings["language"]["source"] == {"code": "en", "name": "English"}
    assert settings["language"]["target"] == {"code": "fr", "name": "French"}
    assert set(settings) >= {"frontendTimeout", "apiKeys", "suggestions", "supportedFilesFormat"}


def test_real_libretranslate_client_against_a_live_server() -> None:
    app = create_app(ServiceSettings(api_keys=["key"]), translator=FakeTranslator())
    with live_server(app) as url:
        api = LibreTranslateAPI(url, api_key="key")
        assert api.translate("Hello world. The cat is black.", "en", "fr") == (
            "bonjour monde. le chat est noir."
        )
        assert api.detect("The cat is on the table.")[0]["language"] == "en"
        assert [lang["code"] for lang in api.languages()] == ["en", "fr"]
        with pytest.raises(HTTPError) as refused:
            LibreTranslateAPI(url, api_key="wrong").translate("Hi", "en", "fr")
        assert refused.value.code == 403
