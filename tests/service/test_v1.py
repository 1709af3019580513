"""The JSON API, ops routes, limits, auth and CORS, with a fake translator."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.settings import ServiceSettings
from tests.service.conftest import FakeTranslator, fake_sentence


def test_single_text(client: TestClient) -> None:
    response = client.post("/v1/translate", json={"text": "Hello world."})
    assert response.status_code == 200
    body = response.json()
    [item] = body["translations"]
    assert item["text"] == "bonjour monde."
    assert item["score"] == pytest.approx(-0.2)  # scored even without return_scores
    assert item["attention"] is None and item["alternatives"] == []
    assert item["diagnostics"]["mean_log_prob"] == pytest.approx(-0.1)
    assert item["diagnostics"]["under_translated"] is None
    assert item["diagnostics"]["repetition"] is False
    assert body["model"] == {"name": "fake-en-fr", "src_lang": "en", "tgt_lang": "fr", "step": 42}
    assert body["timing_ms"] >= 0


def test_list_keeps_order_and_empty_text_gives_empty_translation(
    client: TestClient, fake: FakeTranslator
) -> None:
    texts = ["The cat.", "", "Good morning!"]
    body = client.post("/v1/translate", json={"text": texts}).json()
    assert [t["text"] for t in body["translations"]] == ["le chat.", "", "bon matin!"]
    assert body["translations"][1]["sentences"] == 0
    assert fake.model_calls == 1 and fake.calls[-1][0] == 2  # both sentences, one call


def test_paragraph_is_split_translated_in_one_batch_and_reassembled(
    client: TestClient, fake: FakeTranslator
) -> None:
    text = "Hello world.  The cat is black!\nHow are you?"
    item = client.post("/v1/translate", json={"text": text}).json()["translations"][0]
    assert item["text"] == "bonjour monde.  le chat est noir!\ncomment allez vous?"
    assert item["sentences"] == 3
    assert fake.calls[-1][0] == 3


def test_options_reach_the_translator(client: TestClient, fake: FakeTranslator) -> None:
    request = {
        "text": "Hello world.",
        "beam_size": 4,
        "n_best": 3,
        "max_length_ratio": 1.5,
        "length_penalty": 0.6,
        "coverage_penalty": 0.2,
        "no_repeat_ngram_size": 3,
        "return_scores": True,
    }
    item = client.post("/v1/translate", json=request).json()["translations"][0]
    options = fake.calls[-1][1]
    assert (options.beam_size, options.n_best, options.max_length_b) == (4, 3, 1.5)
    assert (options.length_penalty, options.coverage_penalty) == (0.6, 0.2)
    assert options.no_repeat_ngram_size == 3 and not options.return_attention
    assert item["score"] == pytest.approx(-0.2)
    assert [a["text"] for a in item["alternatives"]] == ["bonjour monde. [1]", "bonjour monde. [2]"]
    assert [a["score"] for a in item["alternatives"]] == pytest.approx([-1.2, -2.2])


def test_unset_options_come_from_the_model_decode_config(settings: ServiceSettings) -> None:
    fake = FakeTranslator(search_defaults={"length_penalty": 0.6, "max_length_a": 3.0})
    with TestClient(create_app(settings, translator=fake)) as client:
        client.post("/v1/translate", json={"text": "Hello."})
        assert (fake.calls[-1][1].length_penalty, fake.calls[-1][1].max_length_a) == (0.6, 3.0)
        client.post("/v1/translate", json={"text": "Hello.", "length_penalty": 0.0})
        assert fake.calls[-1][1].length_penalty == 0.0
        client.post("/translate", json={"q": "Hello.", "source": "en", "target": "fr"})
        assert fake.calls[-1][1].length_penalty == 0.6


def test_default_beam_comes_from_settings(client: TestClient, fake: FakeTranslator) -> None:
    client.post("/v1/translate", json={"text": "Hello."})
    assert fake.calls[-1][1].beam_size == 2
    client.post("/v1/translate", json={"text": "Hello.", "n_best": 3})
    assert fake.calls[-1][1].beam_size == 3


def test_attention_matrix_matches_pieces(client: TestClient) -> None:
    request = {"text": "Hello world. The cat.", "return_attention": True}
    attention = client.post("/v1/translate", json=request).json()["translations"][0]["attention"]
    assert attention["source_pieces"] == ["Hello", "world.", "</s>", "The", "cat.", "</s>"]
    assert attention["target_pieces"] == ["bonjour", "monde.", "</s>", "le", "chat.", "</s>"]
    weights = attention["weights"]
    assert len(weights) == 6 and all(len(row) == 6 for row in weights)
    assert weights[0][0] == 1.0 and weights[3][3] == 1.0 and weights[5][5] == 1.0
    assert sum(weights[3][:3]) == 0.0  # block diagonal: sentence 2 never looks at sentence 1


def test_coverage_model_flags_under_translation_and_copy_probability() -> None:
    fake = FakeTranslator(coverage=True, copy=True, drop_last_source=True)
    with TestClient(create_app(ServiceSettings(), translator=fake)) as client:
        item = client.post("/v1/translate", json={"text": "The cat is black."}).json()
    item = item["translations"][0]
    assert fake.calls[-1][1].return_attention  # requested internally
    assert item["attention"] is None  # but not returned unasked
    assert item["diagnostics"]["under_translated"] is True
    assert item["diagnostics"]["untranslated_source_pieces"] == ["black."]
    assert item["copy_probability"] == [0.25] * 5


def test_pieces_that_already_end_with_eos_are_not_doubled() -> None:
    fake = FakeTranslator(coverage=True, drop_last_source=True, eos_in_pieces=True)
    request = {"text": "The cat is black.", "return_attention": True}
    with TestClient(create_app(translator=fake)) as client:
        item = client.post("/v1/translate", json=request).json()["translations"][0]
    assert item["attention"]["source_pieces"] == ["The", "cat", "is", "black.", "</s>"]
    assert item["attention"]["target_pieces"] == ["le", "chat", "est", "noir.", "</s>"]
    assert item["diagnostics"]["untranslated_source_pieces"] == ["black."]


def test_repetition_flag() -> None:
    with TestClient(create_app(translator=FakeTranslator())) as client:
        item = client.post("/v1/translate", json={"text": "the the the cat"}).json()
    assert item["translations"][0]["diagnostics"]["repetition"] is True
    assert item["translations"][0]["text"] == fake_sentence("the the the cat")


def test_limits_are_413_and_name_the_limit(client: TestClient) -> None:
    too_long = client.post("/v1/translate", json={"text": "a" * 201})
    assert too_long.status_code == 413 and too_long.json()["limit"] == "max_chars"
    assert "max_chars=200" in too_long.json()["error"]
    too_many = client.post("/v1/translate", json={"text": ["a"] * 5})
    assert too_many.status_code == 413 and too_many.json()["limit"] == "max_texts"
    too_big = client.post("/v1/translate", json={"text": ["a" * 150] * 30})
    assert too_big.status_code == 413 and too_big.json()["limit"] == "max_body_bytes"


def test_bad_input_is_4xx_never_5xx(client: TestClient) -> None:
    cases = [
        client.post(
            "/v1/translate", content=b"{not json", headers={"content-type": "application/json"}
        ),
        client.post("/v1/translate", json={"text": 3}),
        client.post("/v1/translate", json={"text": ["ok", None]}),
        client.post("/v1/translate", json={}),
        client.post("/v1/translate", json={"text": "x", "beam_size": 17}),
        client.post("/v1/translate", json={"text": "x", "beam_size": 2, "n_best": 3}),
        client.post("/v1/translate", json={"text": "x", "unknown": 1}),
        client.post("/v1/translate", content=b"text=x", headers={"content-type": "text/plain"}),
    ]
    assert [r.status_code for r in cases] == [422] * len(cases)
    missing = client.get("/no/such/route")
    assert missing.status_code == 404 and "error" in missing.json()
    assert client.get("/v1/translate").status_code == 405


def test_api_keys_protect_translation() -> None:
    settings = ServiceSettings(api_keys=["sesame"])
    with TestClient(create_app(settings, translator=FakeTranslator())) as client:
        assert client.post("/v1/translate", json={"text": "Hi"}).status_code == 401
        wrong = {"Authorization": "Bearer nope"}
        assert client.post("/v1/translate", json={"text": "Hi"}, headers=wrong).status_code == 403
        right = {"Authorization": "Bearer sesame"}
        assert client.post("/v1/translate", json={"text": "Hi"}, headers=right).status_code == 200
        assert client.get("/health").status_code == 200


def test_cors_header_only_when_configured() -> None:
    origin = {"Origin": "https://example.org"}
    settings = ServiceSettings(cors_origins=["https://example.org"])
    with TestClient(create_app(settings, translator=FakeTranslator())) as client:
        response = client.get("/health", headers=origin)
        assert response.headers["access-control-allow-origin"] == "https://example.org"
        preflight = client.options(
            "/v1/translate",
            headers={**origin, "Access-Control-Request-Method": "POST"},
        )
        assert preflight.status_code == 200
    with TestClient(create_app(translator=FakeTranslator())) as client:
        assert "access-control-allow-origin" not in client.get("/health", headers=origin).headers


def test_ready_only_after_warm_up() -> None:
    fake = FakeTranslator()
    app = create_app(translator=fake)
    cold = TestClient(app)  # no lifespan: the model was never loaded
    assert cold.get("/health").status_code == 200
    assert cold.get("/ready").status_code == 503
    assert cold.post("/v1/translate", json={"text": "Hi"}).status_code == 503
    with TestClient(app) as warm:
        assert len(fake.calls) == 1  # the warm-up call
        assert warm.get("/ready").json() == {"ready": True}
    assert cold.get("/ready").status_code == 503  # shut down


def test_model_info(tmp_path) -> None:  # type: ignore[no-untyped-def]
    card = tmp_path / "card.json"
    card.write_text('{"results": [{"beam": 5, "bleu": 31.4}]}')
    settings = ServiceSettings(model_card=card)
    with TestClient(create_app(settings, translator=FakeTranslator(copy=True))) as client:
        info = client.get("/v1/model").json()
    assert info["name"] == "fake-en-fr" and info["parameters"] == 1234
    assert info["data_manifest_hash"] == "abc123" and info["config"] == {"model": {"hidden": 8}}
    assert info["bleu"] == 31.4 and info["copy"] is True and info["coverage"] is False
    with TestClient(create_app(translator=FakeTranslator())) as client:
        assert client.get("/v1/model").json()["bleu"] == 12.5  # from the checkpoint scores


def test_the_bundle_card_is_found_named_and_served(tmp_path) -> None:  # type: ignore[no-untyped-def]
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "MODEL_CARD.md").write_text("# Model card: demo\n\nTest BLEU 54.3 (beam 5).\n")
    settings = ServiceSettings(checkpoint=bundle)
    with TestClient(create_app(settings, translator=FakeTranslator())) as client:
        info = client.get("/v1/model").json()
        assert info["model_card_url"] == "/v1/model/card" and info["bleu"] == 54.3
        card = client.get(info["model_card_url"])
        assert card.status_code == 200 and card.text.startswith("# Model card: demo")
        assert card.headers["content-type"].startswith("text/markdown")
    with TestClient(create_app(translator=FakeTranslator())) as client:
        assert client.get("/v1/model").json()["model_card_url"] is None
        missing = client.get("/v1/model/card")
        assert missing.status_code == 404 and "no model card" in missing.json()["error"]


def test_metrics_count_requests_batches_and_queue(client: TestClient) -> None:
    client.post("/v1/translate", json={"text": "Hello."})
    client.get("/nope")
    text = client.get("/metrics").text
    assert 'nmt_http_requests_total{method="POST",route="/v1/translate",status="200"} 1.0' in text
    assert 'route="unmatched",status="404"' in text
    for name in (
        "nmt_http_request_duration_seconds_bucket",
        "nmt_batch_size_sentences_bucket",
        "nmt_batch_queue_depth",
        "nmt_model_calls_total 2.0",
        "nmt_model_ready 1.0",
    ):
        assert name in text


def test_page_and_docs_are_served(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and 'id="source"' in page.text
    assert client.get("/static/app.js").status_code == 200
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    lt_body = spec["paths"]["/translate"]["post"]["requestBody"]["content"]
    assert set(lt_body) == {
        "application/json",
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    }
    assert "q" in lt_body["application/json"]["schema"]["properties"]


def test_html_format_on_v1(client: TestClient) -> None:
    request = {"text": "<p>Hello <i>world</i>.</p><style>p{}</style>", "format": "html"}
    item = client.post("/v1/translate", json=request).json()["translations"][0]
    assert item["text"] == "<p>bonjour <i>monde</i>.</p><style>p{}</style>"
