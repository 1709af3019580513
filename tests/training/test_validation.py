"""validate(): the four scores, and no change to the model's weights or train/eval mode."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from nmt.training.setup import TrainingRun, setup_run
from nmt.training.validation import validate
from tests.training.test_trainer import small_config


@pytest.fixture(scope="module")
def run(prepared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> TrainingRun:
    config = small_config(prepared_dir, "train.valid_max_sentences=3")
    return setup_run(config, prepared_dir, tmp_path_factory.mktemp("run"), resume=False)


@pytest.mark.parametrize("training", [True, False])
def test_validate_scores_without_changing_the_model(run: TrainingRun, training: bool) -> None:
    run.model.train(training)
    before = {name: t.clone() for name, t in run.model.state_dict().items()}
    args = (run.model, run.valid, run.src_tok, run.tgt_tok, run.config, run.device)
    scores = validate(*args)
    assert set(scores) == {"valid_loss", "valid_ppl", "valid_bleu", "valid_chrf"}
    assert scores["valid_loss"] > 0 and math.isclose(
        scores["valid_ppl"], math.exp(scores["valid_loss"])
    )
    assert 0.0 <= scores["valid_bleu"] <= 100.0 and 0.0 <= scores["valid_chrf"] <= 100.0
    assert run.model.training is training
    assert all(torch.equal(before[n], t) for n, t in run.model.state_dict().items())
    assert validate(*args) == scores  # deterministic: no dropout, no sampling
    assert len(run.valid.sources) == 3 == len(run.valid.references)  # valid_max_sentences
