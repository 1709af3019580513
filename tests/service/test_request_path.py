"""The path of a request (docs/ARCHITECTURE.md): `beam_size` goes from the HTTP body to
beam search in the one `SearchOptions` object the route makes, through these calls."""

from __future__ import annotations

import traceback
from importlib import import_module
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from nmt import SearchOptions, load_translator
from service.app import create_app
from service.settings import ServiceSettings

SEARCH_MODULE = import_module("nmt.decoding.search")  # `nmt.decoding.search` is the function

# (file, function) of each call from the batcher's thread down to beam search, in order
MODEL_THREAD_PATH = [
    ("service/batching.py", "_run"),
    ("service/batching.py", "_translate_group"),
    ("service/batching.py", "_translate_sentences"),
    ("nmt/translator.py", "translate"),
    ("nmt/text/pipeline.py", "translate_texts"),
    ("nmt/translator.py", "translate_segments"),
    ("nmt/translator.py", "_search"),
    ("nmt/decoding/search.py", "search"),
]


def _ours(frames: traceback.StackSummary) -> list[tuple[str, str]]:
    """(path under the repository, function) of the frames in nmt/ and service/."""
    found = []
    for frame in frames:
        parts = Path(frame.filename).parts
        for top in ("nmt", "service"):
            if top in parts:
                index = len(parts) - 1 - parts[::-1].index(top)
                found.append(("/".join(parts[index:]), frame.name))
                break
    return found


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/translate", {"text": "Where is the station?", "beam_size": 3, "n_best": 2}),
        (
            "/translate",
            {"q": "Where is the station?", "source": "en", "target": "fr", "alternatives": 1},
        ),
    ],
)
def test_the_options_the_route_merges_reach_beam_search_unchanged(
    shipped_model_dir: Path, monkeypatch: pytest.MonkeyPatch, path: str, body: dict
) -> None:
    merged: list[SearchOptions] = []
    reached: list[tuple[SearchOptions, list[tuple[str, str]]]] = []
    real_merged, real_beam = SearchOptions.merged, SEARCH_MODULE.beam_search

    def recording_merged(self: SearchOptions, **overrides: Any) -> SearchOptions:
        merged.append(real_merged(self, **overrides))
        return merged[-1]

    def recording_beam(
        model: Any, src: Any, lengths: Any, options: SearchOptions, *a: Any, **k: Any
    ) -> Any:
        reached.append((options, _ours(traceback.extract_stack())))
        return real_beam(model, src, lengths, options, *a, **k)

    translator = load_translator(shipped_model_dir, "cpu")
    settings = ServiceSettings(default_beam_size=3, max_wait_ms=0.0)
    with TestClient(create_app(settings, translator=translator)) as client:
        monkeypatch.setattr(SearchOptions, "merged", recording_merged)
        monkeypatch.setattr(SEARCH_MODULE, "beam_search", recording_beam)
        assert client.post(path, json=body).status_code == 200
    [made] = merged  # the request's one re-packing: its fields over the model's defaults
    [(options, stack)] = reached
    assert options is made and (options.beam_size, options.n_best) == (3, 2)
    calls = [call for call in stack if call in MODEL_THREAD_PATH]
    assert calls == MODEL_THREAD_PATH


@pytest.mark.parametrize("shortlist", [True, False])
def test_the_shortlist_setting_reaches_the_loaded_model(
    shipped_model_dir: Path, shortlist: bool
) -> None:
    settings = ServiceSettings(checkpoint=shipped_model_dir, shortlist=shortlist, gc_freeze=False)
    with TestClient(create_app(settings)) as client:
        info = client.get("/v1/model").json()
        reply = client.post("/v1/translate", json={"text": "I love you."}).json()
    assert info["quantize"] in {"int8", "none"}
    assert (info["output_vocabulary"] > 0) is shortlist
    assert reply["translations"][0]["text"] == "Je t'aime."
