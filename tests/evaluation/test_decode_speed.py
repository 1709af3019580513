"""Tests for bench/decode_speed.py with a fake translator (no model)."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from nmt.decoding.types import SearchOptions
from nmt.translator import Translation

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "decode_speed.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("decode_speed", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # must not run the benchmark
    return module


def write_test_split(root: Path, english: list[str], french: list[str]) -> None:
    """A prepared directory with only a test split (and the manifest keys readers need)."""
    manifest = {"source": {}, "languages": {"src": "en", "tgt": "fr"}, "splits": {}}
    manifest |= {"tokenizer": {}, "files": {}}
    (root / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    (root / "test.en").write_text("".join(line + "\n" for line in english), encoding="utf-8")
    (root / "test.fr").write_text("".join(line + "\n" for line in french), encoding="utf-8")


class EchoTranslator:
    """Returns each source reversed word by word; records the options of every call."""

    info: dict[str, Any] = {
        "name": "echo",
        "config": {"decode": {"beam_size": 5, "length_penalty": 0.6, "batch_size": 8}},
    }

    def __init__(self) -> None:
        self.calls: list[tuple[int, SearchOptions | None]] = []

    def translate(
        self, texts: Sequence[str], options: SearchOptions | None = None
    ) -> list[Translation]:
        self.calls.append((len(texts), options))
        return [self._one(text) for text in texts]

    @staticmethod
    def _one(text: str) -> Translation:
        pieces = text.split()[::-1]
        # like the real translator, the pieces end with "</s>", which is not counted
        return Translation(text, " ".join(pieces), 0.0, [], text.split(), [*pieces, "</s>"])


def test_benchmark_times_each_beam_after_a_warmup(bench: ModuleType) -> None:
    texts = [f"sentence number {i} here" for i in range(20)]  # 4 pieces each
    fake = EchoTranslator()
    results = bench.benchmark(fake, texts, beams=[1, 3], batch_size=8)
    assert [r["beam"] for r in results] == [1, 3]
    for result in results:
        assert result["sentences"] == 20 and result["target_tokens"] == 80
        assert result["seconds"] > 0
        assert result["sentences_per_second"] == pytest.approx(20 / result["seconds"])
        assert result["target_tokens_per_second"] == pytest.approx(80 / result["seconds"])
        assert result["settings"]["length_penalty"] == 0.6  # from the checkpoint's config
    # per beam: warm-up (16 sentences in batches of 8), then 20 sentences in 8 + 8 + 4
    assert [size for size, _ in fake.calls] == [8, 8, 8, 8, 4] * 2
    assert [options.beam_size for _, options in fake.calls] == [1] * 5 + [3] * 5


def test_unique_sources_and_arguments(bench: ModuleType, tmp_path: Path) -> None:
    write_test_split(
        tmp_path, ["Run!", "Hi.", "Run!", "Go."], ["Cours !", "Salut.", "Fuyez !", "Va !"]
    )
    assert bench.unique_sources(tmp_path, "test", None) == ["Run!", "Hi.", "Go."]
    assert bench.unique_sources(tmp_path, "test", 2) == ["Run!", "Hi."]
    args = bench.parse_args(["--checkpoint", "ck", "--beams", "1,4", "--limit", "5"])
    assert (args.beams, args.limit, args.device) == ([1, 4], 5, "auto")
    with pytest.raises(SystemExit):
        bench.parse_args(["--checkpoint", "ck", "--beams", "one"])
    args = bench.parse_args(["--checkpoint", "ck", "--quantize", "int8", "--model-only"])
    assert (args.quantize, args.model_only, args.threads) == ("int8", True, None)
    assert bench.parse_args(["--checkpoint", "ck", "--threads", "2"]).threads == 2
    for bad in (["--quantize", "int4"], ["--threads", "0"]):
        with pytest.raises(SystemExit):
            bench.parse_args(["--checkpoint", "ck", *bad])


class SegmentsTranslator(EchoTranslator):
    """An EchoTranslator whose model path (translate_segments) is the only one allowed."""

    default_options = SearchOptions(beam_size=2)

    def translate(
        self, texts: Sequence[str], options: SearchOptions | None = None
    ) -> list[Translation]:
        raise AssertionError("--model-only must not go through the text boundary")

    def translate_segments(self, texts: Sequence[str], options: SearchOptions) -> list[Translation]:
        return EchoTranslator.translate(self, texts, options)


def test_model_only_times_translate_segments(bench: ModuleType) -> None:
    fake = SegmentsTranslator()
    model = bench.ModelOnly(fake)
    assert model.info is fake.info
    [result] = bench.benchmark(model, ["a b", "c d e"], beams=[3], batch_size=8)
    assert result["target_tokens"] == 5
    assert [options.beam_size for _, options in fake.calls] == [3, 3]  # warm-up, then timed
    assert model.translate(["x y"])[0].text == "y x"
    assert fake.calls[-1][1] == SegmentsTranslator.default_options


def test_missing_checkpoint_is_a_clean_error(
    bench: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_test_split(tmp_path, ["Run!"], ["Cours !"])
    code = bench.main(["--checkpoint", str(tmp_path / "nope"), "--data", str(tmp_path)])
    assert code == 1 and "error:" in capsys.readouterr().err
