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
    detected = single.json()["detectedLanguage"]
    assert detected["language"] == "en" and 50 < detected["confidence"] <= 100


def test_a_language_to_itself_comes_back_as_it_is(client: TestClient, fake: FakeTranslator) -> None:
    """LibreTranslate lists every language among its own targets: en->en, fr->fr, and auto
    into the language a text is already in, give the text back without a model call."""
    calls = len(fake.calls)
    for source, target, text in [
        ("en", "en", "Hello."),
        ("fr", "fr", "Bonjour."),
        ("auto", "en", "Hello, how are you?"),
        ("auto", "fr", "Bonne nuit"),
    ]:
        answer = client.post("/translate", json={"q": text, "source": source, "target": target})
        assert answer.status_code == 200 and answer.json()["translatedText"] == text, answer.text
    assert len(fake.calls) == calls
    mixed = {"q": ["Hello.", "Bonne nuit"], "source": "auto", "target": "en", "alternatives": 1}
    answer = client.post("/translate", json=mixed)
    assert answer.status_code == 400  # French into English is not this model's direction
    assert answer.json()["error"] == (
        "English (en) is not available as a target language from French (fr)"
    )
    languages = client.get("/languages").json()
    assert [(lang["code"], lang["targets"]) for lang in languages] == [
        ("en", ["en", "fr"]),
        ("fr", ["fr"]),
    ]


def test_codes_in_any_case_and_an_unset_format_are_read_as_libretranslate_does(
    client: TestClient,
) -> None:
    for extra in (
        {"source": "EN", "target": "Fr"},
        {"format": None},
        {"format": ""},
        {"format": "Text"},
    ):
        answer = client.post("/translate", json={**PARAMS, **extra})
        assert answer.status_code == 200, (extra, answer.text)
        assert answer.json() == {"translatedText": "bonjour monde."}
    auto = client.post("/translate", json={**PARAMS, "source": "AUTO"})
    assert auto.json()["detectedLanguage"]["language"] == "en"


def test_json_subtypes_are_json(client: TestClient) -> None:
    for ctype in ("application/vnd.api+json", "application/json; charset=utf-8"):
        answer = client.post(
            "/translate",
            content=b'{"q": "Hello world.", "source": "en", "target": "fr"}',
            headers={"content-type": ctype},
        )
        assert answer.status_code == 200 and answer.json() == {"translatedText": "bonjour monde."}


def test_detect_takes_a_list_and_answers_the_mean_over_it(client: TestClient) -> None:
    one = client.post("/detect", json={"q": "Le chat est sur la table."}).json()
    pair = client.post("/detect", json={"q": ["Le chat est sur la table.", "Bonne nuit"]})
    assert pair.status_code == 200
    assert [d["language"] for d in pair.json()] == ["fr", "en"]
    mixed = client.post("/detect", json={"q": ["Le chat est sur la table.", "Good morning"]})
    shares = {d["language"]: d["confidence"] for d in mixed.json()}
    assert 0 < shares["fr"] < one[0]["confidence"]
    assert sum(shares.values()) == pytest.approx(100, abs=0.2)
    too_many = client.post("/detect", json={"q": ["Hi"] * 5})  # the fixture allows 4
    assert too_many.status_code == 400 and "exceeds text limit" in too_many.json()["error"]
    for bad in (["Hi", 3], ["ok", None], 5):
        for route, extra in (("/detect", {}), ("/translate", {"source": "en", "target": "fr"})):
            answer = client.post(route, json={"q": bad, **extra})
            assert answer.status_code == 400
            assert answer.json()["error"] == (
                "Invalid request: q must be a string or a list of strings"
            )


def test_html_format_keeps_markup(client: TestClient) -> None:
    html = '<p class="a">Hello &amp; world. <b>The cat</b></p><script>x = "Hello";</script>'
    answer = client.post("/translate", json={**PARAMS, "q": html, "format": "HTML"}).json()
    expected = '<p class="a">bonjour &amp; monde. <b>le chat</b></p><script>x = "Hello";</script>'
    assert answer["translatedText"] == expected


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"source": "en", "target": "fr"}, "missing q parameter"),
        ({"q": "Hi", "target": "fr"}, "missing source parameter"),
        ({"q": "Hi", "source": "en"}, "missing target parameter"),
        ({"q": "Hi", "source": "en", "target": "de"}, "de is not supported"),
        (
            {"q": "Hi", "source": "fr", "target": "en"},
            "English (en) is not available as a target language from French (fr)",
        ),
        ({"q": "Hi", "source": "en", "target": "fr", "format": "pdf"}, "pdf format is not"),
        (
            {"q": "Hi", "source": "en", "target": "fr", "alternatives": "x"},
            "Invalid request: alternatives parameter is not a number",
        ),
        (
            {"q": "Hi", "source": "en", "target": "fr", "alternatives": 16},
            "Invalid request: alternatives parameter must be <= 15",
        ),
        (
            {"q": "a" * 201, "source": "en", "target": "fr"},
            "Invalid request: request (201) exceeds text limit (200)",
        ),
        (
            {"q": ["a"] * 5, "source": "en", "target": "fr"},
            "Invalid request: request (5) exceeds text limit (4)",
        ),
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
    how_to_get_one = {"error": "Please contact the server operator to get an API key"}
    with TestClient(create_app(settings, translator=FakeTranslator())) as client:
        refused = client.post("/translate", json=PARAMS)
        assert refused.status_code == 400 and refused.json() == how_to_get_one
        empty = client.post("/translate", data={**PARAMS, "api_key": ""})  # as LT's page sends
        assert empty.status_code == 400 and empty.json() == how_to_get_one
        wrong = client.post("/translate", json={**PARAMS, "api_key": "no"})
        assert wrong.status_code == 403 and wrong.json() == {"error": "Invalid API key"}
        assert client.post("/translate", json={**PARAMS, "api_key": "k1"}).status_code == 200
        assert client.post("/translate", params={**PARAMS, "api_key": "k1"}).status_code == 200
        header = {"Authorization": "Bearer k1"}
        assert client.post("/translate", data=PARAMS, headers=header).status_code == 200
        assert client.post("/detect", data={"q": "Hi"}).status_code == 400
        assert client.post("/detect", data={"q": "Hi", "api_key": "no"}).status_code == 403
        assert client.get("/frontend/settings").json()["keyRequired"] is True


def test_detect_languages_and_frontend_settings(client: TestClient) -> None:
    detected = client.post("/detect", json={"q": "Le chat est sur la table."}).json()
    assert detected[0]["language"] == "fr" and detected[0]["confidence"] > 50
    assert client.post("/detect", json={}).status_code == 400
    languages = client.get("/languages").json()
    assert languages[0] == {"code": "en", "name": "English", "targets": ["en", "fr"]}
    settings = client.get("/frontend/settings").json()
    assert settings["charLimit"] == 200 and settings["keyRequired"] is False
    assert settings["language"]["source"] == {"code": "en", "name": "English"}
    assert settings["language"]["target"] == {"code": "fr", "name": "French"}
    assert set(settings) >= {"frontendTimeout", "apiKeys", "suggestions", "supportedFilesFormat"}
    assert settings["filesTranslation"] is False and settings["supportedFilesFormat"] == []
    assert settings["suggestions"] is False and settings["apiKeys"] is False


def test_optional_keys_let_keyless_requests_through_but_not_wrong_keys() -> None:
    settings = ServiceSettings(api_keys=["k1"], require_api_key=False)
    with TestClient(create_app(settings, translator=FakeTranslator())) as client:
        front = client.get("/frontend/settings").json()
        assert (front["apiKeys"], front["keyRequired"]) == (True, False)
        assert client.post("/translate", json=PARAMS).status_code == 200
        assert client.post("/translate", data={**PARAMS, "api_key": ""}).status_code == 200
        wrong = client.post("/translate", json={**PARAMS, "api_key": "no"})
        assert wrong.status_code == 403 and wrong.json() == {"error": "Invalid API key"}
        assert client.post("/translate", json={**PARAMS, "api_key": "k1"}).status_code == 200
        assert client.post("/v1/translate", json={"text": "Hi"}).status_code == 200
        bad_bearer = {"Authorization": "Bearer no"}
        assert (
            client.post("/v1/translate", json={"text": "Hi"}, headers=bad_bearer).status_code == 403
        )


def test_keys_are_compared_whatever_their_characters() -> None:
    settings = ServiceSettings(api_keys=["clé-é"])
    with TestClient(create_app(settings, translator=FakeTranslator())) as client:
        assert client.post("/translate", json={**PARAMS, "api_key": "clé-é"}).status_code == 200
        assert client.post("/translate", json={**PARAMS, "api_key": "ключ"}).status_code == 403
        lone = b'{"q": "Hi", "source": "en", "target": "fr", "api_key": "\\udc80"}'
        headers = {"content-type": "application/json"}
        assert client.post("/translate", content=lone, headers=headers).status_code == 403


def test_suggest_and_translate_file_answer_as_a_server_with_them_off(client: TestClient) -> None:
    suggest = client.post("/suggest", data={"q": "Hi", "s": "Salut", **PARAMS})
    assert suggest.status_code == 403
    assert suggest.json() == {"error": "Suggestions are disabled on this server."}
    upload = {"file": ("a.txt", b"Hello.", "text/plain")}
    files = client.post("/translate_file", data={"source": "en", "target": "fr"}, files=upload)
    assert files.status_code == 403
    assert files.json() == {"error": "Files translation are disabled on this server."}


def test_translate_file_checks_the_key_first() -> None:
    settings = ServiceSettings(api_keys=["k1"])
    with TestClient(create_app(settings, translator=FakeTranslator())) as client:
        upload = {"file": ("a.txt", b"Hello.", "text/plain")}
        keyless = client.post("/translate_file", data={"source": "en"}, files=upload)
        assert keyless.status_code == 400 and "get an API key" in keyless.json()["error"]
        wrong = client.post("/translate_file", data={"api_key": "no"}, files=upload)
        assert wrong.status_code == 403


def test_form_and_query_line_breaks_become_lf_json_is_kept(
    client: TestClient, fake: FakeTranslator
) -> None:
    text = "Hello world.\r\nThe cat.\rGood morning."
    expected = "bonjour monde.\nle chat.\nbon matin."
    form = client.post("/translate", data={**PARAMS, "q": text}).json()["translatedText"]
    query = client.post("/translate", params={**PARAMS, "q": text}).json()["translatedText"]
    multipart = client.post(
        "/translate", data={**PARAMS, "q": text}, files={"unused": ("a.txt", b"x")}
    ).json()["translatedText"]
    assert form == query == multipart == expected
    listed = client.post("/translate", data={**PARAMS, "q": [text, "Hi\r\nyou"]}).json()
    assert listed["translatedText"] == [expected, "HI\nvous"]


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
