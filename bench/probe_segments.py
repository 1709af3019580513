#!/usr/bin/env python3
"""Several sentences on a line, quoted speech, no end mark: text boundary steps on and off.

    python bench/probe_segments.py [--checkpoint models/en-fr-base] [--data data/prepared/fra-eng]
        [--beam 5] [--every 10]

Three probe sets from the valid and test splits (their unique sources; the test split is
read, as every probe here, for the text boundary and not to choose a model):
- **sentences**: the sources `nmt.text.sentence_ranges` cuts into two or more sentences;
  translated with each sentence its own model input (as shipped) and with the whole line
  as one input (the step turned off);
- **quotes**: the sources holding a pair of double quotes, plus `EXTRA_QUOTES`, written
  for this probe; translated with quotes out of the model's input and put back as
  guillemets (as shipped) and with the model shown them (the step turned off).
- **unpunctuated**: every `--every`-th source ending in . ! or ?, that mark taken off it
  and off its references ("I love you" / "Je t'aime"), as people type; translated with a
  full stop added for the model and taken off its output (as shipped) and as they are.
Each: multi-reference BLEU and chrF (sacreBLEU) where there are references, and for
quotes the share of outputs with exactly the source's pairs, as « » and no other double
quote ("balanced"). JSON on stdout, with every output (the first 20 unpunctuated ones).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

from nmt.data.dataset import read_groups
from nmt.evaluation.metrics import score_corpus
from nmt.text import pipeline, quotes, sentence_ranges
from nmt.translator import NeuralTranslator, load_translator

EXTRA_QUOTES = (
    '"Come here. Sit down," he said.',
    '"Look," she said.',
    'She asked, "Where are you going?"',
    'The sign said "Keep out".',
    '"Yes," said Tom. "I know."',
    'He called it a "small problem".',
)


@contextmanager
def whole_lines() -> Iterator[None]:
    """The text boundary with one model input per line, not per sentence."""
    with mock.patch.object(pipeline, "sentence_ranges", lambda text: [(0, len(text))]):
        yield


@contextmanager
def no_added_stop() -> Iterator[None]:
    """The text boundary giving a sentence without its end mark to the model as it is."""
    with mock.patch.object(pipeline, "_stopped", lambda part: part):
        yield


_END_MARK = re.compile(r"\s*[.!?]+$")


def unpunctuated(groups: list[Any], every: int) -> list[tuple[str, list[str]]]:
    """Every `every`-th source ending in . ! or ?, with its references, the mark taken off."""
    ended = [g for g in groups if _END_MARK.search(g.source)][::every]
    return [
        (_END_MARK.sub("", g.source), [_END_MARK.sub("", ref) for ref in g.references])
        for g in ended
    ]


@contextmanager
def quotes_shown() -> Iterator[None]:
    """The text boundary without the quote step: the model sees the quotes, its output stays."""
    with (
        mock.patch.object(pipeline, "without_quotes", lambda text: text),
        mock.patch.object(pipeline, "french_quotes", lambda _s, text, links: (text, links)),
    ):
        yield


def balanced(source: str, output: str) -> bool:
    """Whether `output` holds exactly the source's pairs of double quotes, as « »."""
    pairs = quotes.quote_pairs(source) or []
    others = re.findall(r'["“”„]', output)
    return output.count("«") == output.count("»") == len(pairs) and not others


def _scores(hypotheses: list[str], references: list[list[str]]) -> dict[str, float]:
    if not hypotheses:
        return {}
    score = score_corpus(hypotheses, references)
    return {"bleu": round(score.bleu, 2), "chrf": round(score.chrf, 2)}


def measure(
    translator: NeuralTranslator, groups: list[Any], beam: int, every: int = 10
) -> dict[str, Any]:
    """The three probe sets, each step on and off (module docstring)."""
    options = translator.default_options.merged(beam_size=beam)

    def run(texts: list[str]) -> list[str]:
        return [t.text for t in translator.translate(texts, options)] if texts else []

    several = [g for g in groups if len(sentence_ranges(g.source)) > 1]
    sources = [g.source for g in several]
    per_sentence = run(sources)
    with whole_lines():
        per_line = run(sources)
    references = [g.references for g in several]
    quoted = [g for g in groups if quotes.quote_pairs(g.source)]
    texts = [g.source for g in quoted] + list(EXTRA_QUOTES)
    guillemets = run(texts)
    with quotes_shown():
        shown = run(texts)
    quoted_refs = [g.references for g in quoted]
    bare = unpunctuated(groups, every)
    bare_sources = [source for source, _ in bare]
    stopped = run(bare_sources)
    with no_added_stop():
        as_typed = run(bare_sources)
    bare_refs = [references for _, references in bare]

    def quote_report(outputs: list[str]) -> dict[str, Any]:
        held = sum(balanced(s, o) for s, o in zip(texts, outputs, strict=True))
        return {
            **_scores(outputs[: len(quoted)], quoted_refs),
            "balanced": round(held / max(len(texts), 1), 3),
        }

    return {
        "beam": beam,
        "sentences": {
            "probes": len(several),
            "per_sentence": _scores(per_sentence, references),
            "whole_line": _scores(per_line, references),
            "outputs": [
                {"source": s, "per_sentence": a, "whole_line": b}
                for s, a, b in zip(sources, per_sentence, per_line, strict=True)
            ],
        },
        "unpunctuated": {
            "probes": len(bare),
            "every": every,
            "stop_added": _scores(stopped, bare_refs),
            "as_typed": _scores(as_typed, bare_refs),
            "outputs": [
                {"source": s, "stop_added": a, "as_typed": b}
                for s, a, b in list(zip(bare_sources, stopped, as_typed, strict=True))[:20]
            ],
        },
        "quotes": {
            "probes": len(texts),
            "with_references": len(quoted),
            "guillemets": quote_report(guillemets),
            "shown_to_model": quote_report(shown),
            "outputs": [
                {"source": s, "guillemets": a, "shown_to_model": b}
                for s, a, b in zip(texts, guillemets, shown, strict=True)
            ],
        },
    }


def main(argv: list[str] | None = None) -> int:
    """Parse the options, measure, print the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default="models/en-fr-base")
    parser.add_argument("--data", default="data/prepared/fra-eng")
    parser.add_argument("--beam", type=int, default=5)
    parser.add_argument("--every", type=int, default=10, help="unpunctuated: every n-th source")
    args = parser.parse_args(argv)
    groups = [g for split in ("valid", "test") for g in read_groups(Path(args.data), split)]
    translator = load_translator(Path(args.checkpoint), "cpu")
    report = {"checkpoint": args.checkpoint, **measure(translator, groups, args.beam, args.every)}
    json.dump(report, sys.stdout, indent=1, ensure_ascii=False)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
