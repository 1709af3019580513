"""Evaluation: sacreBLEU scores (multi- and single-reference), reports and plots.

`nmt.evaluation.plots` is imported on demand, so that scoring does not load matplotlib.
"""

from nmt.evaluation.evaluate import evaluate_translator, paired_tests, score_hypotheses_file
from nmt.evaluation.metrics import CorpusScore, score_corpus
from nmt.evaluation.report import compare_table, markdown_table, read_report, write_report
from nmt.evaluation.significance import PairedComparison, paired_test, significance_table

__all__ = [
    "CorpusScore",
    "PairedComparison",
    "compare_table",
    "evaluate_translator",
    "markdown_table",
    "paired_test",
    "paired_tests",
    "read_report",
    "score_corpus",
    "score_hypotheses_file",
    "significance_table",
    "write_report",
]
