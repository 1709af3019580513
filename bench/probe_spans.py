"""Probe set: do numbers, times, prices, e-mails, URLs and names come out verbatim?

    python bench/probe_spans.py --checkpoint models/en-fr-base [--data DIR] [--per-kind 50]
        [--seed 0] [--out runs/probe_spans] [--baseline] [--device cpu]

Builds probes from the unique sources of the valid split (the data is written to
`--out`, a git-ignored folder, never committed): sentences with a span substituted in,
`--per-kind` of each kind (six kinds, 300 sentences by default). Each probe is
translated with the checkpoint's default search through `NeuralTranslator.translate`
(the text boundary); a span is preserved when the translation contains it verbatim.
Prints a JSON report: per kind the count and share preserved, and the share the model
wrote itself (its placeholder, the span, or for a count from 1 to 20 its French word was
already in the raw output, before the boundary restored anything). `--baseline` adds the
share the bare model keeps when it is given the sentence as it is (no boundary).

The probe names (Jasper, Ingrid, Freya...) replace names of the sentence; those the
training source holds at most once are protected spans when the bundle records its
source word counts (`nmt.text.names`); a known name may rightly be translated (London ->
Londres), so names the model knows are left to it.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch

from nmt.data.dataset import read_groups
from nmt.text.clean import sanitize
from nmt.text.lines import write_lines
from nmt.text.pipeline import prepare
from nmt.translator import NeuralTranslator, load_translator

DEFAULT_DATA = Path("data/prepared/fra-eng")
KINDS = ("number", "time", "price", "email", "url", "name")
_NUMBER_WORD = re.compile(
    r"\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|"
    r"forty|fifty|hundred|thousand|\d+(?:[.,]\d+)*)\b"
)
_NAME = re.compile(r"\b(?:Tom|Mary|John|Alice|Ken|Jim|Bob|Jack)\b")
_TIME_VERB = re.compile(r"\b(?:meet|leave|left|arrive|start|begin|come|came|go|went|get up|call)\b")
_PRICE_VERB = re.compile(
    r"\b(?:bought|buy|sell|sold|paid|pay|costs?|spent|spend|price|gave|give|got|get|need|want)\b"
)
_URL_VERB = re.compile(r"\b(?:read|look|see|saw|check|visit|find|found|watch|write|wrote)\b")
_OBJECT_END = re.compile(r"\b(?:him|her|them|me|us)(?=[.!?]$)")
NAMES = ("Jasper", "Ingrid", "Oliver", "Hannah", "Lukas", "Sofia", "Mateo", "Freya", "Ravi", "Yuki")


def _number(rng: random.Random) -> str:
    value = rng.choice([rng.randint(2, 99), rng.randint(100, 9999), rng.randint(1000, 99999)])
    return f"{value:,}" if value >= 10000 else str(value)


def _email(rng: random.Random) -> str:
    first, last = rng.choice(NAMES).lower(), rng.choice(["smith", "martin", "lee", "novak"])
    return f"{first}.{last}@{rng.choice(['example.com', 'mail.example.org', 'test.fr'])}"


def _url(rng: random.Random) -> str:
    path = rng.choice(["", "/news", "/docs/intro.html", "/a?b=1&c=2", "/2024/05/report"])
    scheme = rng.choice(["https://", "http://", "https://www."])
    return f"{scheme}example{rng.randint(1, 99)}.org{path}"


def _before_final(sentence: str, insert: str) -> str | None:
    """The sentence with `insert` put before its final punctuation (None without one)."""
    if not sentence or sentence[-1] not in ".!?":
        return None
    return f"{sentence[:-1]} {insert}{sentence[-1]}"


def _substitute(kind: str, sentence: str, rng: random.Random) -> tuple[str, str] | None:
    """A probe (sentence, span) of this kind made from a valid sentence, or None."""
    if kind == "number" and (match := _NUMBER_WORD.search(sentence)):
        span = _number(rng)
        return sentence[: match.start()] + span + sentence[match.end() :], span
    if kind == "time" and _TIME_VERB.search(sentence) and " at " not in sentence:
        span = f"{rng.randint(1, 12)}:{rng.choice(['00', '15', '30', '45', '05'])}"
        made = _before_final(sentence, f"at {span}")
        return (made, span) if made else None
    if kind == "price" and _PRICE_VERB.search(sentence):
        span = rng.choice(
            [f"${rng.randint(2, 500)}.{rng.randint(10, 99)}", f"€{rng.randint(2, 90)}"]
        )
        made = _before_final(sentence, f"for {span}")
        return (made, span) if made else None
    if kind == "email" and (match := _OBJECT_END.search(sentence) or _NAME.search(sentence, 1)):
        span = _email(rng)
        return sentence[: match.start()] + span + sentence[match.end() :], span
    if kind == "url" and _URL_VERB.search(sentence):
        span = _url(rng)
        made = _before_final(sentence, f"on {span}")
        return (made, span) if made else None
    if kind == "name" and (match := _NAME.search(sentence)):
        span = rng.choice(NAMES)
        return sentence[: match.start()] + span + sentence[match.end() :], span
    return None


def build_probes(sources: list[str], per_kind: int, seed: int) -> list[dict[str, str]]:
    """`per_kind` probes of each kind, from the sources in a seeded random order."""
    rng = random.Random(seed)
    order = list(sources)
    rng.shuffle(order)
    probes = []
    for kind in KINDS:
        made = 0
        for sentence in order:
            probe = _substitute(kind, sentence, rng)
            if probe is None or len(sentence.split()) < 3:
                continue
            probes.append({"kind": kind, "source": probe[0], "span": probe[1]})
            made += 1
            if made == per_kind:
                break
    return probes


def _batches(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _translate(translate: Callable[[list[str]], list[str]], texts: list[str]) -> list[str]:
    return [out for batch in _batches(texts, 64) for out in translate(batch)]


def model_wrote(translator: NeuralTranslator, probes: list[dict[str, str]]) -> list[bool]:
    """Per probe: did the raw model output already hold the span or its placeholder?"""
    wanted: list[tuple[str, tuple[str, ...]] | None] = []  # (model input, what it may write)
    for probe in probes:
        prepared = prepare(translator, probe["source"])
        found = [
            (part.edited.text, span.renderings or (span.placeholder or span.verbatim,))
            for part in prepared.parts
            for span in part.spans
            if span.verbatim == probe["span"]
        ]
        wanted.append(found[0] if found else None)
    inputs = [item[0] for item in wanted if item]
    options = translator.default_options
    raw = iter(
        _translate(lambda b: [t.text for t in translator.translate_segments(b, options)], inputs)
    )
    return [item is not None and _wrote(next(raw), item[1]) for item in wanted]


def _wrote(output: str, renderings: tuple[str, ...]) -> bool:
    """Whether the model's raw output holds one of the span's renderings as a word."""
    return any(re.search(rf"(?<!\w){re.escape(r)}(?!\w)", output) for r in renderings)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Build the probes, translate them, and measure what came out verbatim."""
    sources = [group.source for group in read_groups(Path(args.data), "valid")]
    probes = build_probes(sources, args.per_kind, args.seed)
    out = Path(args.out)
    write_lines(out / "probes.tsv", [f"{p['kind']}\t{p['span']}\t{p['source']}" for p in probes])
    translator = load_translator(Path(args.checkpoint), args.device)
    started = time.perf_counter()
    texts = [p["source"] for p in probes]
    outputs = _translate(lambda b: [t.text for t in translator.translate(b)], texts)
    seconds = time.perf_counter() - started
    write_lines(out / "translations.txt", outputs)
    baseline: list[str] = []
    if args.baseline:
        bare = [sanitize(text).text for text in texts]
        options = translator.default_options
        baseline = _translate(
            lambda b: [t.text for t in translator.translate_segments(b, options)], bare
        )
    wrote = model_wrote(translator, probes)
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for index, probe in enumerate(probes):
        kind = counts[probe["kind"]]
        kind["count"] += 1
        kind["preserved"] += probe["span"] in outputs[index]
        kind["model_wrote"] += wrote[index]
        if baseline:
            kind["baseline_preserved"] += probe["span"] in baseline[index]
    by_kind = {
        name: {
            "count": c["count"],
            "preserved_share": c["preserved"] / c["count"],
            "model_wrote_share": c["model_wrote"] / c["count"],
            **({"baseline_share": c["baseline_preserved"] / c["count"]} if baseline else {}),
        }
        for name, c in counts.items()
    }
    return {
        "checkpoint": str(args.checkpoint),
        "step": translator.info.get("step"),
        "search": translator.info.get("search_defaults"),
        "probes": len(probes),
        "seed": args.seed,
        "seconds": round(seconds, 1),
        "written_to": str(out),
        "by_kind": by_kind,
    }


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run the probe set, print the JSON report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default="models/en-fr-base", help="bundle directory")
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="prepared-data directory")
    parser.add_argument("--per-kind", type=int, default=50, help="probes per kind (default 50)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/probe_spans", help="where the probe data goes")
    parser.add_argument("--baseline", action="store_true", help="also score the bare model")
    parser.add_argument("--device", default="cpu", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    report = run(args)
    json.dump(report, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
