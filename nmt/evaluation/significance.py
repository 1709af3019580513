"""Is one system's BLEU really higher than another's? Paired tests on one split.

Two tests, both as sacreBLEU runs them (`sacrebleu.significance.PairedTest`, Post, 2018):
paired bootstrap resampling (Koehn, 2004: the Moses script's test; 1,000 resamples by
default) and paired approximate randomization (Riezler and Maxwell, 2005: 10,000 trials
by default, with a 1,000-resample bootstrap for the confidence intervals). Each system is
compared with the first one, the baseline, on multi-reference BLEU and chrF2 (the
headline scores; references padded as in `nmt.evaluation.metrics`). The resampling is
seeded: sacreBLEU's seed 12345, or the `SACREBLEU_SEED` environment variable; the seed
used is in each signature.

A system whose output equals the baseline's, line for line, gets p = 1: both sacreBLEU
tests count resamples with a difference strictly above the observed one, so two identical
systems (every difference 0) would otherwise come out "significant" at p = 1/(n+1), the
flaw reported against multeval, whose test sacreBLEU follows (jhclark/multeval#5).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sacrebleu.metrics import BLEU, CHRF
from sacrebleu.significance import PairedTest, Result

from nmt.errors import NmtError
from nmt.evaluation.metrics import reference_streams

Method = Literal["bs", "ar"]
METHOD_NAMES: dict[str, str] = {
    "bs": "paired bootstrap resampling",
    "ar": "paired approximate randomization",
}
SIGNIFICANCE_LEVEL = 0.05
_METRICS = (("bleu", "BLEU"), ("chrf", "chrF2"))  # our key, sacreBLEU's score name


@dataclass(frozen=True)
class MetricEstimate:
    """One metric of one system: its corpus score, the resampled mean and 95 % interval.

    `ci` is the half width of the 95 % confidence interval around `mean` (both 0-100);
    `p_value` is None for the baseline, else the probability of a difference at least
    this large arising by chance.
    """

    score: float
    mean: float | None
    ci: float | None
    p_value: float | None

    @property
    def significant(self) -> bool:
        """True when the difference from the baseline is significant at p < 0.05."""
        return self.p_value is not None and self.p_value < SIGNIFICANCE_LEVEL


@dataclass(frozen=True)
class SystemEstimate:
    """A system's BLEU and chrF estimates against the baseline (the first system)."""

    name: str
    bleu: MetricEstimate
    chrf: MetricEstimate


@dataclass(frozen=True)
class PairedComparison:
    """The result of one paired test: the baseline first, then each system."""

    method: Method
    samples: int
    systems: list[SystemEstimate]
    signatures: dict[str, str]  # "bleu"/"chrf" -> sacreBLEU signature, seed and samples

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: method, samples, signatures and one row per system."""
        rows = []
        for system in self.systems:
            row: dict[str, Any] = {"name": system.name}
            for key, _ in _METRICS:
                estimate: MetricEstimate = getattr(system, key)
                row[key] = {
                    "score": estimate.score,
                    "mean": estimate.mean,
                    "ci95": estimate.ci,
                    "p_value": estimate.p_value,
                }
            rows.append(row)
        return {
            "method": METHOD_NAMES[self.method],
            "samples": self.samples,
            "significance_level": SIGNIFICANCE_LEVEL,
            "signatures": self.signatures,
            "systems": rows,
        }


def _estimate(result: Result, same_as_baseline: bool) -> MetricEstimate:
    def number(value: Any) -> float | None:
        return None if value is None else float(value)

    p_value = 1.0 if same_as_baseline else number(result.p_value)
    return MetricEstimate(float(result.score), number(result.mean), number(result.ci), p_value)


def paired_test(
    systems: Sequence[tuple[str, Sequence[str]]],
    references: Sequence[Sequence[str]],
    method: Method = "bs",
    samples: int = 0,
) -> PairedComparison:
    """Compare each system with the first on multi-reference BLEU and chrF2.

    `systems` is (name, hypotheses) pairs, the baseline first, every system with one
    hypothesis per entry of `references` (each a list of one or more references).
    `samples` is resamples (bootstrap) or trials (randomization); 0 takes sacreBLEU's
    default (1,000 or 10,000). Raises NmtError for fewer than two systems, a length
    mismatch, an empty reference list or an unknown method.
    """
    if method not in METHOD_NAMES:
        raise NmtError(f"unknown significance test {method!r}; choose one of {list(METHOD_NAMES)}")
    if len(systems) < 2:
        raise NmtError("a paired test needs a baseline and at least one system to compare")
    if samples < 0:
        raise NmtError(f"samples must be 0 (the default) or more, got {samples}")
    if not references:
        raise NmtError("nothing to compare: no references")
    for name, hypotheses in systems:
        if len(hypotheses) != len(references):
            raise NmtError(f"{name}: {len(hypotheses)} hypotheses for {len(references)} references")
    test = PairedTest(
        [(name, list(hypotheses)) for name, hypotheses in systems],
        {"BLEU": BLEU(), "chrF": CHRF()},
        reference_streams(references),
        test_type=method,
        n_samples=samples,
        n_ar_confidence=0 if method == "ar" else -1,  # 0: sacreBLEU's 1,000 resamples
    )
    signatures, scores = test()
    baseline = list(systems[0][1])
    # the baseline itself has no p-value; only later systems can equal it
    identical = [False] + [list(hypotheses) == baseline for _, hypotheses in systems[1:]]
    estimates = {
        key: [_estimate(r, same) for r, same in zip(scores[name], identical, strict=True)]
        for key, name in _METRICS
    }
    return PairedComparison(
        method=method,
        samples=test.n_samples,
        systems=[
            SystemEstimate(name, estimates["bleu"][i], estimates["chrf"][i])
            for i, (name, _) in enumerate(systems)
        ],
        signatures={key: str(signatures[name]) for key, name in _METRICS},
    )


def _cell(estimate: MetricEstimate) -> str:
    spread = "" if estimate.mean is None else f" ({estimate.mean:.2f} ± {estimate.ci:.2f})"
    return f"{estimate.score:.2f}{spread}"


def _p_cell(estimate: MetricEstimate) -> str:
    if estimate.p_value is None:
        return "-"
    return f"{estimate.p_value:.4f}" + (" *" if estimate.significant else "")


def significance_table(comparisons: Sequence[tuple[str, PairedComparison]]) -> str:
    """Markdown: one row per (label, system), then how the test was run.

    `label` names what the comparison holds fixed (e.g. "beam 5").
    """
    if not comparisons:
        return ""
    lines = [
        "| | system | BLEU multi (mean ± 95% CI) | p | chrF multi (mean ± 95% CI) | p |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for label, comparison in comparisons:
        for index, system in enumerate(comparison.systems):
            name = f"{system.name} (baseline)" if index == 0 else system.name
            cells = [_cell(system.bleu), _p_cell(system.bleu)]
            cells += [_cell(system.chrf), _p_cell(system.chrf)]
            lines.append(f"| {label} | {name} | " + " | ".join(cells) + " |")
    first = comparisons[0][1]
    lines += [
        "",
        f"{METHOD_NAMES[first.method].capitalize()} ({first.samples:,} samples) against the "
        f"first system of each group; * p < {SIGNIFICANCE_LEVEL}. Signatures:",
        *(f"- `{signature}`" for signature in dict.fromkeys(first.signatures.values())),
    ]
    return "\n".join(lines) + "\n"
