#!/usr/bin/env python3
"""Counts written as digits: does the sentence around them survive? JSON on stdout.

    python bench/probe_counts.py [--checkpoint models/en-fr-base] [--data data/prepared/fra-eng]
        [--split valid] [--beam 5] [--amounts]

Probes come from the split's unique sources that spell one count from 2 to 20 out
("I have two brothers.") and whose every reference spells its French word out ("J'ai
deux frères."). In each, the word becomes its digits, in the source and in the references
("I have 2 brothers." / "J'ai 2 frères."). The digit sources are translated through the
text boundary twice: as it ships (`nmt.text.numbers`: the count goes to the model as its
English word) and with that step turned off (the count goes as a placeholder name, as
before). The spelled-out sources, translated and scored against the original references,
give the model's own level on the same sentences. Multi-reference BLEU and chrF
(sacreBLEU), and the share of translations holding the digits.

With `--amounts` each count becomes a larger amount instead, the same in source and
references, taken in turn from `AMOUNTS` ("I have 35 brothers." / "J'ai 35 frères."):
amounts go to the model as a stand-in count ("thirty"), or, turned off, as a placeholder.

`--initial` keeps only the probes whose count opens the sentence ("Three people came." ->
"250 people came."), which valid and test hold few of; `--split train` draws probes from
the training pairs (sentences the model was trained on: fit to compare ways of giving it
the same amounts, not to report its quality). `--initial-stand-ins ten,three` overrides
`nmt.text.numbers.INITIAL_STAND_INS` (French word looked up for 2-20 and the tens).
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

from nmt.data.dataset import build_groups, read_groups
from nmt.evaluation.metrics import score_corpus
from nmt.text import numbers, pipeline
from nmt.translator import NeuralTranslator, load_translator

ENGLISH = dict(zip(numbers.ENGLISH_WORDS, numbers.SPOKEN, strict=True))
FRENCH = dict(zip(numbers.SPOKEN, numbers.FRENCH_WORDS, strict=True))
AMOUNTS = ("21", "35", "48", "100", "250", "2.5", "1,000", "64")


def _spelled(text: str, word: str) -> list[re.Match[str]]:
    return list(re.finditer(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text, re.IGNORECASE))


def build_probes(
    groups: list[Any], amounts: bool = False, initial: bool = False
) -> list[dict[str, Any]]:
    """One probe per source spelling exactly one count 2-20 that every reference spells;
    written as its digits, or with `amounts` as the next of `AMOUNTS`; with `initial`, only
    sources that open with their count."""
    probes = []
    for group in groups:
        found = [(w, m) for w, v in ENGLISH.items() if v > 1 for m in _spelled(group.source, w)]
        if len(found) != 1 or (initial and found[0][1].start() != 0):
            continue
        word, match = found[0]
        digits, french = str(ENGLISH[word]), FRENCH[ENGLISH[word]]
        if amounts:
            digits = AMOUNTS[len(probes) % len(AMOUNTS)]
        references = [_spelled(ref, french) for ref in group.references]
        if not all(len(spans) == 1 for spans in references):
            continue
        source = group.source[: match.start()] + digits + group.source[match.end() :]
        refs = [
            ref[: spans[0].start()] + digits + ref[spans[0].end() :]
            for ref, spans in zip(group.references, references, strict=True)
        ]
        probes.append({"digits": digits, "source": source, "references": refs, "group": group})
    return probes


TENS = {
    "thirty": ("trente", "30"),
    "forty": ("quarante", "40"),
    "fifty": ("cinquante", "50"),
    "sixty": ("soixante", "60"),
}


def _stand_in(english: str) -> tuple[str, str, str]:
    """(English, French, digits) of a count word 2-20 or one of `TENS`."""
    if english in TENS:
        return (english, *TENS[english])
    value = ENGLISH[english]
    return english, FRENCH[value], str(value)


def _groups(data_dir: Path, split: str) -> list[Any]:
    """The split's reference groups; for train, built from its text files."""
    if split != "train":
        return read_groups(data_dir, split)
    sources = (data_dir / "train.en").read_text(encoding="utf-8").splitlines()
    targets = (data_dir / "train.fr").read_text(encoding="utf-8").splitlines()
    return build_groups(sources, targets)


@contextmanager
def placeholders_for_counts() -> Iterator[None]:
    """The text boundary without spoken counts: every number gets a placeholder name."""
    with mock.patch.object(pipeline, "spoken_number", lambda *_: None):
        yield


def _scores(hypotheses: list[str], references: list[list[str]]) -> dict[str, float]:
    score = score_corpus(hypotheses, references)
    return {"bleu": round(score.bleu, 2), "chrf": round(score.chrf, 2)}


def measure(translator: NeuralTranslator, probes: list[dict[str, Any]], beam: int) -> dict:
    """Translate the probes three ways and score them (module docstring)."""
    options = translator.default_options.merged(beam_size=beam)
    digit_sources = [p["source"] for p in probes]
    digit_refs = [p["references"] for p in probes]

    def run(texts: list[str]) -> list[str]:
        return [t.text for t in translator.translate(texts, options)]

    spoken = run(digit_sources)
    with placeholders_for_counts():
        placeholder = run(digit_sources)
    spelled = run([p["group"].source for p in probes])

    def kept(outputs: list[str]) -> float:
        held = sum(
            re.search(rf"(?<![\d.,]){re.escape(p['digits'])}(?![\d.,]\d)", o) is not None
            for p, o in zip(probes, outputs, strict=True)
        )
        return round(held / max(len(probes), 1), 3)

    return {
        "probes": len(probes),
        "beam": beam,
        "digits_spoken": {**_scores(spoken, digit_refs), "digits_kept": kept(spoken)},
        "digits_placeholder": {
            **_scores(placeholder, digit_refs),
            "digits_kept": kept(placeholder),
        },
        "spelled_out": _scores(spelled, [p["group"].references for p in probes]),
        "examples": [
            {"source": p["source"], "spoken": s, "placeholder": h}
            for p, s, h in list(zip(probes, spoken, placeholder, strict=True))[:8]
        ],
    }


def main(argv: list[str] | None = None) -> int:
    """Parse the options, measure, print the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default="models/en-fr-base")
    parser.add_argument("--data", default="data/prepared/fra-eng")
    parser.add_argument("--split", default="valid", choices=("train", "valid", "test"))
    parser.add_argument("--beam", type=int, default=5)
    parser.add_argument("--amounts", action="store_true", help="larger amounts (AMOUNTS)")
    parser.add_argument("--initial", action="store_true", help="counts opening the sentence")
    parser.add_argument("--initial-stand-ins", help="comma-separated English words, e.g. ten")
    parser.add_argument("--limit", type=int, help="at most this many probes")
    args = parser.parse_args(argv)
    probes = build_probes(_groups(Path(args.data), args.split), args.amounts, args.initial)
    probes = probes[: args.limit]
    translator = load_translator(Path(args.checkpoint), "cpu")
    stand_ins = numbers.INITIAL_STAND_INS
    if args.initial_stand_ins:
        stand_ins = tuple(_stand_in(word) for word in args.initial_stand_ins.split(","))
    with mock.patch.object(numbers, "INITIAL_STAND_INS", stand_ins):
        measured = measure(translator, probes, args.beam)
    report = {
        "checkpoint": args.checkpoint,
        "split": args.split,
        "amounts": args.amounts,
        "initial": args.initial,
        "initial_stand_ins": [english for english, _, _ in stand_ins],
        **measured,
    }
    json.dump(report, sys.stdout, indent=1, ensure_ascii=False)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
