"""train.init_from: a new run starts from a bundle's weights, with a fresh optimizer and step."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from nmt.checkpoint import WEIGHTS_FILE, load_bundle, save_bundle, verify_bundle
from nmt.data.tokenizer import load_tokenizers
from nmt.errors import CheckpointError, NmtError
from nmt.model import build_model
from nmt.training.setup import setup_run
from nmt.training.trainer import train
from tests.training.test_trainer import small_config


@pytest.fixture(scope="module")
def trained(prepared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 4-step run's last bundle, the warm start's source."""
    run = tmp_path_factory.mktemp("source") / "run"
    train(small_config(prepared_dir, "train.max_steps=4"), prepared_dir, run, progress_bar=False)
    return run / "last"


def test_the_run_starts_from_the_bundles_weights(
    prepared_dir: Path, trained: Path, tmp_path: Path
) -> None:
    config = small_config(prepared_dir, f"train.init_from={trained}", "train.seed=7")
    run = setup_run(config, prepared_dir, tmp_path / "run", resume=False)
    expected = load_bundle(trained).state_dict  # tied weights under every name
    for name, tensor in run.model.state_dict().items():
        torch.testing.assert_close(tensor, expected[name].to(tensor.dtype), msg=name)
    assert all(not state for state in run.optimizer.state.values())  # fresh Adam moments


def test_a_warm_started_run_counts_from_zero_and_records_its_origin(
    prepared_dir: Path, trained: Path, tmp_path: Path
) -> None:
    config = small_config(prepared_dir, f"train.init_from={trained}", "train.max_steps=2")
    result = train(config, prepared_dir, tmp_path / "run", progress_bar=False)
    assert result.step == 2
    metadata = verify_bundle(tmp_path / "run" / "last")
    origin = metadata["init_from"]
    assert origin["bundle"] == str(trained) and origin["step"] == 4
    assert origin["weights_sha256"] == verify_bundle(trained)["files"][WEIGHTS_FILE]
    # and a resumed warm start keeps saying where it began
    longer = small_config(prepared_dir, f"train.init_from={trained}", "train.max_steps=3")
    train(longer, prepared_dir, tmp_path / "run", resume=True, progress_bar=False)
    assert verify_bundle(tmp_path / "run" / "last")["init_from"] == origin


def test_a_run_without_init_from_records_none(prepared_dir: Path, tmp_path: Path) -> None:
    train(
        small_config(prepared_dir, "train.max_steps=1"),
        prepared_dir,
        tmp_path / "run",
        progress_bar=False,
    )
    assert verify_bundle(tmp_path / "run" / "last")["init_from"] is None


def test_another_model_shape_is_refused_naming_the_field(
    prepared_dir: Path, trained: Path, tmp_path: Path
) -> None:
    config = small_config(prepared_dir, f"train.init_from={trained}", "model.hidden_dim=48")
    with pytest.raises(NmtError, match="another network: model.hidden_dim differs;"):
        setup_run(config, prepared_dir, tmp_path / "run", resume=False)
    assert not (tmp_path / "run").exists()


def test_a_warm_start_may_change_dropout_which_leaves_the_network_as_it_is(
    prepared_dir: Path, trained: Path, tmp_path: Path
) -> None:
    """Fine-tuning with other regularisation is a warm start, not another model."""
    changes = ("model.dropout=0.05", "model.embedding_dropout=0.0", "model.recurrent_dropout=0.1")
    config = small_config(prepared_dir, f"train.init_from={trained}", *changes)
    source = load_bundle(trained)
    assert source.config.model.dropout != config.model.dropout
    run = setup_run(config, prepared_dir, tmp_path / "run", resume=False)
    assert run.config.model.dropout == 0.05
    for name, tensor in run.model.state_dict().items():
        torch.testing.assert_close(tensor, source.state_dict[name].to(tensor.dtype), msg=name)


def test_another_vocabulary_is_refused(prepared_dir: Path, trained: Path, tmp_path: Path) -> None:
    config = small_config(prepared_dir)
    src_tok, tgt_tok = load_tokenizers(prepared_dir)
    model = build_model(
        config.model,
        src_tok.vocab_size,
        tgt_tok.vocab_size,
        pad_id=0,
        joint_vocab=src_tok is tgt_tok,
    )
    foreign = tmp_path / "foreign"
    metadata = {"tokenizer_sha256": {"src": "0" * 64, "tgt": "0" * 64}, "step": 9}
    save_bundle(foreign, model.state_dict(), config, metadata, {"spm.model": b"x"})
    with pytest.raises(NmtError, match="other sentencepiece models"):
        setup_run(
            small_config(prepared_dir, f"train.init_from={foreign}"),
            prepared_dir,
            tmp_path / "run",
            resume=False,
        )


def test_a_missing_or_corrupt_bundle_is_a_checkpoint_error(
    prepared_dir: Path, trained: Path, tmp_path: Path
) -> None:
    with pytest.raises(CheckpointError, match="train.init_from: checkpoint not found"):
        setup_run(
            small_config(prepared_dir, f"train.init_from={tmp_path / 'nope'}"),
            prepared_dir,
            tmp_path / "run",
            resume=False,
        )
    broken = tmp_path / "broken"
    broken.mkdir()
    for path in trained.resolve().iterdir():
        (broken / path.name).write_bytes(path.read_bytes())
    weights_file = broken / WEIGHTS_FILE
    weights_file.write_bytes(weights_file.read_bytes()[:-8])
    with pytest.raises(CheckpointError, match="corrupt"):
        setup_run(
            small_config(prepared_dir, f"train.init_from={broken}"),
            prepared_dir,
            tmp_path / "run",
            resume=False,
        )


def test_resuming_a_run_that_does_not_exist_creates_nothing(
    prepared_dir: Path, tmp_path: Path
) -> None:
    with pytest.raises(NmtError, match="no run in"):
        setup_run(small_config(prepared_dir), prepared_dir, tmp_path / "none", resume=True)
    assert not (tmp_path / "none").exists()
