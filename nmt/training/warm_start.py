"""Warm start: a new run whose first weights come from a trained bundle (`train.init_from`).

Fine-tuning and warm restarts both start from trained weights with a fresh optimizer,
learning-rate schedule and step count; OpenNMT-py calls this `train_from` with
`reset_optim: all`, Joey NMT `load_model` with `reset_optimizer`/`reset_scheduler`. Only
the weights are taken: a run that should continue the saved optimizer and schedule is a
`--resume`, not a warm start.

The bundle must be of the same model (the `model` section of its config) and share the
run's sentencepiece model(s): a piece id has to mean the same piece on both sides.
It may have been trained on other data (that is fine-tuning); the run records which
bundle it started from, by the SHA-256 of its weights file, in every bundle it writes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from nmt import checkpoint as ckpt
from nmt.config import Config, differ_phrase, model_differences
from nmt.errors import CheckpointError, NmtError
from nmt.model import Seq2Seq

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class InitialWeights:
    """Where a warm-started run's first weights came from (metadata.json `init_from`)."""

    bundle: str  # the path given in train.init_from
    weights_sha256: str  # of the bundle's model.safetensors
    step: int  # the bundle's own training step
    data_manifest_hash: str  # the data the bundle was trained on


def load_initial_weights(
    model: Seq2Seq, config: Config, tokenizer_sha256: dict[str, str]
) -> InitialWeights:
    """Copy the weights of the bundle at `config.train.init_from` into `model`.

    `tokenizer_sha256` holds the run's {"src", "tgt"} sentencepiece hashes. Weights stored
    in float16 are widened to the model's float32. Raises CheckpointError for a missing,
    corrupt or unreadable bundle (as `nmt.checkpoint.load_bundle`), and NmtError for a
    bundle of another model shape or another vocabulary.
    """
    if config.train.init_from is None:
        raise NmtError("load_initial_weights: train.init_from is not set")
    path = Path(config.train.init_from)
    try:
        bundle = ckpt.load_bundle(path)
    except CheckpointError as err:
        raise CheckpointError(f"train.init_from: {err}") from None
    if bundle.meta.ensemble:
        raise NmtError(
            f"train.init_from: {path} is an ensemble of {len(bundle.meta.ensemble)} models; "
            f"start from one of its members (`nmt export {path} --member 0 --out DIR`)"
        )
    differ = model_differences(bundle.config, config)
    if differ:
        raise NmtError(
            f"train.init_from: {path} is another network: {differ_phrase(differ)}; "
            "a warm start needs the same model section (dropout may change)"
        )
    saved_tokenizers = bundle.meta.tokenizer_sha256
    if saved_tokenizers and saved_tokenizers != tokenizer_sha256:
        raise NmtError(
            f"train.init_from: {path} was trained with other sentencepiece models than "
            "this run's prepared data; piece ids would not match"
        )
    try:
        model.load_state_dict(bundle.state_dict)
    except (RuntimeError, ValueError) as err:
        raise CheckpointError(f"train.init_from: {path} does not fit this model ({err})") from None
    origin = InitialWeights(
        bundle=str(config.train.init_from),
        weights_sha256=bundle.metadata["files"][ckpt.WEIGHTS_FILE],
        step=bundle.meta.step,
        data_manifest_hash=bundle.meta.data_manifest_hash,
    )
    logger.info("warm start: weights from %s (its step %d)", path, origin.step)
    return origin
