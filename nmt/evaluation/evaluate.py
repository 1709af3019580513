"""Evaluate a translator (or a hypothesis file) on a prepared split, following DATA_SPLIT.md.

Each unique source sentence is translated once. Multi-reference scores (the headline)
use one hypothesis per unique source against all of its references; single-reference
scores reuse that hypothesis for every pair with that source, scored against the
pair's own target.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tqdm import tqdm

from nmt.data.dataset import (
    ReferenceGroup,
    derived_from,
    load_manifest,
    manifest_hash,
    read_groups,
    read_split_text,
)
from nmt.decoding.types import SearchOptions
from nmt.errors import DataError, NmtError
from nmt.evaluation.metrics import CorpusScore, score_corpus
from nmt.evaluation.significance import Method, PairedComparison, paired_test
from nmt.text.lines import split_lines

if TYPE_CHECKING:  # only for annotations: evaluation need not import the model stack
    from nmt.translator import ModelDescription, Translation, Translator

# Source-length buckets in whitespace-separated words: (label, highest or None).
LENGTH_BUCKETS: tuple[tuple[str, int | None], ...] = (
    ("1-5", 5),
    ("6-10", 10),
    ("11-15", 15),
    ("16+", None),
)
DEFAULT_OPTIONS = SearchOptions()  # frozen, so safe to share as a default argument


@dataclass(frozen=True)
class EvalData:
    """A split arranged for scoring: unique sources with their references, and the pairs."""

    groups: list[ReferenceGroup]
    targets: list[str]  # per pair, file order
    pair_group: list[int]  # per pair, the index of its group
    manifest_hash: str
    derived_from: str | None = None  # distilled data: the hash of the data it came from


def load_eval_data(data_dir: Path, split: str) -> EvalData:
    """Read a split and its groups, checking that the groups cover every pair exactly once."""
    sources, targets = read_split_text(data_dir, split)
    groups = read_groups(data_dir, split)
    pair_group = [-1] * len(sources)
    for index, group in enumerate(groups):
        if not group.references or len(group.references) != len(group.pair_indices):
            raise DataError(f"{data_dir}: group {index} of {split} has mismatched references")
        for pair in group.pair_indices:
            if not 0 <= pair < len(sources) or pair_group[pair] != -1:
                raise DataError(
                    f"{data_dir}: {split} groups index pair {pair} twice or out of range"
                )
            if sources[pair] != group.source:
                raise DataError(
                    f"{data_dir}: {split} pair {pair} does not match its group's source"
                )
            pair_group[pair] = index
    if -1 in pair_group:
        raise DataError(f"{data_dir}: {split} pair {pair_group.index(-1)} belongs to no group")
    origin = derived_from(load_manifest(data_dir))
    return EvalData(groups, targets, pair_group, manifest_hash(data_dir), origin)


def _scores(score: CorpusScore) -> dict[str, Any]:
    return {
        "bleu": score.bleu,
        "chrf": score.chrf,
        "signature": score.bleu_signature,
        "chrf_signature": score.chrf_signature,
    }


def _bucket(words: int) -> str:
    """The label of the length bucket holding a source of `words` words."""
    return next(label for label, highest in LENGTH_BUCKETS if highest is None or words <= highest)


def by_length(groups: Sequence[ReferenceGroup], hypotheses: Sequence[str]) -> list[dict[str, Any]]:
    """Multi-reference BLEU per source-length bucket (non-empty buckets only)."""
    members: dict[str, list[int]] = {label: [] for label, _ in LENGTH_BUCKETS}
    for index, group in enumerate(groups):
        members[_bucket(len(group.source.split()))].append(index)
    rows = []
    for label, indices in members.items():
        if indices:
            score = score_corpus(
                [hypotheses[i] for i in indices], [groups[i].references for i in indices]
            )
            rows.append({"bucket": label, "sentences": len(indices), "bleu": score.bleu})
    return rows


def score_split(data: EvalData, hypotheses: Sequence[str]) -> dict[str, Any]:
    """Multi-, single-reference and per-length scores for one hypothesis per unique source."""
    if len(hypotheses) != len(data.groups):
        raise NmtError(f"{len(hypotheses)} hypotheses for {len(data.groups)} unique sources")
    multi = score_corpus(hypotheses, [group.references for group in data.groups])
    per_pair = [hypotheses[group] for group in data.pair_group]
    single = score_corpus(per_pair, [[target] for target in data.targets])
    return {
        "multi_reference": _scores(multi),
        "single_reference": _scores(single),
        "by_length": by_length(data.groups, hypotheses),
    }


def translate_all(
    translator: Translator,
    texts: Sequence[str],
    options: SearchOptions,
    batch_size: int,
    progress: bool = False,
    label: str = "",
) -> list[Translation]:
    """Translate texts in batches of `batch_size`; the translations come back in input order.

    Batches are cut from the texts sorted by length, so each holds similar lengths and
    little padding (as a length-bucketing toolkit would decode a test set). `batch_size` is
    texts per `translate` call. Raises NmtError for a batch size below 1 or a translator
    that returns a different number of translations than it was given.
    """
    if batch_size < 1:
        raise NmtError(f"batch size must be at least 1, got {batch_size}")
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    results: list[Translation | None] = [None] * len(texts)
    starts = range(0, len(order), batch_size)
    for start in tqdm(starts, desc=label, unit="batch", disable=not progress, leave=False):
        chunk = order[start : start + batch_size]
        translations = translator.translate([texts[i] for i in chunk], options)
        if len(translations) != len(chunk):
            raise NmtError(f"translator returned {len(translations)} results for {len(chunk)}")
        for i, translation in zip(chunk, translations, strict=True):
            results[i] = translation
    return [translation for translation in results if translation is not None]


def write_attention_plots(
    translator: Translator, sources: Sequence[str], options: SearchOptions, plot_dir: Path
) -> list[str]:
    """Plot the attention of each source's translation; returns the PNG paths written."""
    from nmt.evaluation.plots import plot_attention  # matplotlib only when plotting

    options = options.merged(return_attention=True, n_best=1)
    paths = []
    for index, translation in enumerate(translator.translate(list(sources), options)):
        if translation.attention is None:
            continue  # e.g. an empty source: nothing was attended to
        path = Path(plot_dir) / f"attention_{index:03d}.png"
        plot_attention(
            translation.source_pieces,
            translation.target_pieces,
            translation.attention,
            path,
            title=f"{translation.source}\n→ {translation.text}",
        )
        paths.append(str(path))
    return paths


def _model_summary(description: ModelDescription) -> dict[str, Any]:
    """The model's scalar facts and flat mappings (name, languages...), not its config."""

    def flat(value: Any) -> bool:
        return value is None or isinstance(value, str | int | float | bool)

    return {
        key: value
        for key, value in description.as_dict().items()
        if flat(value) or (isinstance(value, dict) and all(flat(v) for v in value.values()))
    }


def _header(data: EvalData, split: str) -> dict[str, Any]:
    return {
        "split": split,
        "data_manifest_hash": data.manifest_hash,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "sentences": len(data.groups),
        "pairs": len(data.targets),
    }


def evaluate_translator(
    translator: Translator,
    data_dir: Path,
    split: str = "test",
    beams: Sequence[int] = (1, 5),
    base_options: SearchOptions = DEFAULT_OPTIONS,
    batch_size: int = 64,
    progress: bool = True,
    checkpoint: str = "",
    plots: int = 0,
    plot_dir: Path | None = None,
    keep_hypotheses: bool = False,
) -> dict[str, Any]:
    """Translate each unique source of a split once per beam size and score it; the report.

    Results hold BLEU and chrF (0-100), `seconds` (wall clock) and `sentences_per_second`
    of unique sources; with `keep_hypotheses`, also `hypotheses` (one per unique source,
    in the split's group order) for a paired test (`paired_tests`). Raises NmtError for a
    beam below 1 or `plots` without `plot_dir`, DataError for a bad split.
    """
    if not beams or any(beam < 1 for beam in beams):
        raise NmtError(f"beam sizes must be positive integers, got {list(beams)}")
    if plots > 0 and plot_dir is None:
        raise NmtError("attention plots need a plot directory")
    data = load_eval_data(Path(data_dir), split)
    sources = [group.source for group in data.groups]
    described = translator.description
    # distilled data holds its source data's valid and test splits: the two are one family
    trained_on = {described.data_manifest_hash, described.data_derived_from} - {"", None}
    scored_on = {data.manifest_hash, data.derived_from} - {None}
    model = _model_summary(described)
    report: dict[str, Any] = {"checkpoint": checkpoint, **_header(data, split), "model": model}
    if trained_on and not trained_on & scored_on:
        report["warnings"] = ["the model was trained on different prepared data than this split"]
    results = []
    for beam in beams:
        options = base_options.merged(beam_size=beam, n_best=1)
        started = time.perf_counter()
        translations = translate_all(
            translator, sources, options, batch_size, progress, f"beam {beam}"
        )
        hypotheses = [translation.text for translation in translations]
        seconds = time.perf_counter() - started
        result = {"beam": beam, "settings": dataclasses.asdict(options), "seconds": seconds}
        result["sentences_per_second"] = len(sources) / seconds if seconds > 0 else None
        results.append({**result, **score_split(data, hypotheses)})
        if keep_hypotheses:
            results[-1]["hypotheses"] = hypotheses
    report["results"] = results
    if plots > 0 and plot_dir is not None:
        first = base_options.merged(beam_size=beams[0], n_best=1)
        report["attention_plots"] = write_attention_plots(
            translator, sources[:plots], first, plot_dir
        )
    return report


def _read_hypotheses(path: Path) -> list[str]:
    """One hypothesis per line, lines ending at "\\n" only (`nmt.text.lines`)."""
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise NmtError(f"cannot read hypotheses {path}: {error.strerror or error}") from error
    return split_lines(data)


def score_hypotheses_file(
    hyps_path: Path, data_dir: Path, split: str, keep_hypotheses: bool = False
) -> dict[str, Any]:
    """Score another toolkit's output: one line per unique source, or one line per pair.

    For a per-pair file the multi-reference score uses the hypothesis of the first pair
    of each group (the file order of the split); `inconsistent_groups` counts groups whose
    pairs were given different hypotheses; `keep_hypotheses` as in `evaluate_translator`
    (those of the multi-reference score). Raises NmtError for an unreadable file or one
    with neither line count, DataError for a bad split.
    """
    data = load_eval_data(Path(data_dir), split)
    lines = _read_hypotheses(Path(hyps_path))
    if len(lines) == len(data.groups):
        layout, per_source, inconsistent = "per_source", lines, 0
    elif len(lines) == len(data.targets):
        layout = "per_pair"
        per_source = [lines[group.pair_indices[0]] for group in data.groups]
        inconsistent = sum(len({lines[p] for p in g.pair_indices}) > 1 for g in data.groups)
    else:
        raise NmtError(
            f"{hyps_path} has {len(lines)} lines; expected {len(data.groups)} (one per unique "
            f"{split} source) or {len(data.targets)} (one per {split} pair)"
        )
    scores = score_split(data, per_source)
    if layout == "per_pair":  # score each pair with its own line, not the group's first
        single = score_corpus(lines, [[target] for target in data.targets])
        scores["single_reference"] = _scores(single)
    unmeasured = {"beam": None, "settings": None, "seconds": None, "sentences_per_second": None}
    report: dict[str, Any] = {"checkpoint": "", "hypotheses": str(hyps_path)}
    report |= {**_header(data, split), "layout": layout, "inconsistent_groups": inconsistent}
    report["results"] = [{**unmeasured, **scores}]
    if keep_hypotheses:
        report["results"][0]["hypotheses"] = per_source
    return report


def _result_at(report: dict[str, Any], beam: int | None) -> dict[str, Any]:
    """The report's result at this beam size; a hypothesis file's only result at any."""
    for result in report["results"]:
        if result["beam"] == beam or result["beam"] is None:
            return result
    raise NmtError(f"{report.get('checkpoint')}: no result at beam {beam}")


def paired_tests(
    reports: Sequence[dict[str, Any]],
    data_dir: Path,
    split: str,
    method: Method = "bs",
    samples: int = 0,
) -> list[tuple[str, PairedComparison]]:
    """Paired significance tests of each report's system against the first report's.

    One test per beam size that the reports were decoded with (labelled "beam N"), a
    hypothesis file's output taking part in each; one test ("file") when all are files.
    Every result needs its `hypotheses` (`keep_hypotheses=True`). Raises NmtError for
    fewer than two reports or missing hypotheses, DataError for a bad split.
    """
    if len(reports) < 2:
        raise NmtError("a significance test needs a second system (--compare)")
    data = load_eval_data(Path(data_dir), split)
    references = [group.references for group in data.groups]
    beams = [r["beam"] for report in reports for r in report["results"] if r["beam"] is not None]
    comparisons = []
    for beam in dict.fromkeys(beams) or [None]:
        systems = []
        for report in reports:
            result = _result_at(report, beam)
            if "hypotheses" not in result:
                raise NmtError("paired tests need the reports' hypotheses (keep_hypotheses)")
            name = report.get("checkpoint") or report.get("hypotheses") or "?"
            systems.append((str(name), result["hypotheses"]))
        label = "file" if beam is None else f"beam {beam}"
        comparisons.append((label, paired_test(systems, references, method, samples)))
    return comparisons


def without_hypotheses(report: dict[str, Any]) -> dict[str, Any]:
    """The report with its results' `hypotheses` left out (as written to disk)."""
    results = [{k: v for k, v in r.items() if k != "hypotheses"} for r in report["results"]]
    return {**report, "results": results}
