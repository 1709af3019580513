"""Checkpoint averaging and export: the mean of the weights of several bundles of one model,
the inference-only bundle that ships (half-precision weights, no optimizer state), one
member taken out of an ensemble, and the target shortlist, source word counts and
distilled data's origin added to a bundle saved before runs recorded them.

Averaging the last checkpoints of a run follows Vaswani et al. (2017, section 6.1).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch

from nmt.checkpoint import (
    ENSEMBLE_PREFIX,
    METADATA_FILE,
    WEIGHTS_FILE,
    Bundle,
    load_bundle,
    save_bundle,
)
from nmt.config import (
    RUN_FIELDS,
    ConfigError,
    ExportDtype,
    config_differences,
    config_from_dict,
    config_to_dict,
    differ_phrase,
    model_differences,
)
from nmt.data.dataset import (
    derived_from,
    load_manifest,
    load_token_ids,
    manifest_hash,
    source_word_counts,
)
from nmt.data.tokenizer import Tokenizer
from nmt.errors import CheckpointError, DataError
from nmt.fileio import write_json_atomic
from nmt.model.shortlist import target_shortlist

_DTYPES: dict[str, torch.dtype] = {
    "float32": torch.float32,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
    "int8": torch.int8,  # per-row int8 matrices (nmt.storage.quantize_rows)
}

logger = logging.getLogger(__name__)
# An ensemble exported before its records held each member's config
_FIRST_MEMBERS_CONFIG = (
    "the ensemble's first member's (it predates per-member configs), with this member's "
    "train.seed and train.init_from; its data and step are in metadata.json"
)


def average_checkpoints(checkpoints: list[Path], out: Path) -> Path:
    """Average the weights of `checkpoints` (one run's: same model, batches, seed and
    tokenizer) into a new bundle that records the latest checkpoint's config.

    Raises CheckpointError for no checkpoints, a missing or corrupt one, checkpoints that
    differ in `nmt.config.RUN_FIELDS` or tokenizer, or that record different target
    shortlists.
    """
    _refuse_overwriting(out, checkpoints)
    bundles = _load_compatible(checkpoints)
    first = bundles[0]
    dropped = {"files", "scores", "weights_dtype", "exported_from"}  # the inputs', not ours
    metadata = {k: v for k, v in _latest(bundles).metadata.items() if k not in dropped}
    metadata["averaged_from"] = [str(b.path.resolve()) for b in bundles]
    metadata["scores"] = {}
    metadata["target_shortlist"] = _common_shortlist(bundles)
    weights = _mean_weights(bundles)  # as loaded: float16 or float32 (int8 comes back float32)
    stored = {
        str(t.dtype).removeprefix("torch.") for t in weights.values() if t.is_floating_point()
    }
    metadata["weights_dtype"] = "/".join(sorted(stored))
    latest = _latest(bundles)
    return save_bundle(out, weights, latest.config, metadata, first.tokenizer_files)


def export_bundle(
    checkpoints: list[Path], out: Path, dtype: ExportDtype = "float16", name: str | None = None
) -> Path:
    """Write an inference-only bundle: weights averaged over `checkpoints` (one is fine) and
    stored as `dtype`, no training state. It loads like any bundle (`load_translator`), in
    float32, so float16 storage halves the size without changing how it runs.

    Raises CheckpointError when a checkpoint is missing or corrupt, or they differ in
    `nmt.config.RUN_FIELDS` or tokenizer (as `average_checkpoints`).
    """
    if dtype not in _DTYPES:
        raise CheckpointError(f"unknown dtype {dtype!r}; choose one of {', '.join(_DTYPES)}")
    _refuse_overwriting(out, checkpoints)
    bundles = _load_compatible(checkpoints)
    first = bundles[0]
    dropped = {"files", "scores", "averaged_from"}
    metadata = {k: v for k, v in _latest(bundles).metadata.items() if k not in dropped}
    metadata["scores"] = first.metadata.get("scores", {}) if len(bundles) == 1 else {}
    metadata["exported_from"] = [
        {"path": str(b.path.resolve()), "step": b.metadata.get("step")} for b in bundles
    ]
    metadata["weights_dtype"] = dtype
    metadata["target_shortlist"] = _common_shortlist(bundles)
    if name:
        metadata["name"] = name
    return save_bundle(
        out,
        _mean_weights(bundles),
        _latest(bundles).config,
        metadata,
        first.tokenizer_files,
        weights_dtype=_DTYPES[dtype],
    )


def export_ensemble(
    members: list[Path], out: Path, dtype: ExportDtype = "float16", name: str | None = None
) -> Path:
    """Write an inference-only bundle holding every member's weights side by side, decoded
    as one model by the mean of their probabilities (nmt.model.ensemble). Each member is
    one bundle (export each run, averaged or not, first); their weights are stored under
    `members.<i>.` as `dtype`, and metadata.json lists them under `ensemble`.

    Raises CheckpointError for fewer than two members, a missing or corrupt one, one that
    is an ensemble already, or members that differ in model shape (config `model`) or
    tokenizer. Members may come from other data (a student distilled from the others,
    a fine-tuned run): each member's record names its own (`data_manifest_hash`), the
    bundle's top-level one is the first member's, and the target shortlist is the union
    of theirs.
    """
    if dtype not in _DTYPES:
        raise CheckpointError(f"unknown dtype {dtype!r}; choose one of {', '.join(_DTYPES)}")
    if len(members) < 2:
        raise CheckpointError("an ensemble needs at least two bundles")
    _refuse_overwriting(out, members)
    bundles = [load_bundle(path) for path in members]
    first = bundles[0]
    hashes = [bundle.metadata["files"][WEIGHTS_FILE] for bundle in bundles]
    if len(set(hashes)) < len(hashes):
        raise CheckpointError("the same weights are given twice: an ensemble needs other runs")
    for bundle in bundles:
        if bundle.meta.ensemble:
            raise CheckpointError(f"{bundle.path}: is an ensemble already")
        if differ := model_differences(bundle.config, first.config):
            raise CheckpointError(
                f"{bundle.path}: model shape differs from {first.path} ({', '.join(differ)})"
            )
        if bundle.tokenizer_files != first.tokenizer_files:
            raise CheckpointError(f"{bundle.path}: tokenizer differs from {first.path}")
    dropped = {"files", "scores", "averaged_from", "exported_from", "init_from", "tied_weights"}
    dropped |= {"best", "epoch", "train_seconds"}  # each member's own: in its record below
    metadata = {k: v for k, v in first.metadata.items() if k not in dropped}
    metadata["ensemble"] = [_member_record(bundle) for bundle in bundles]
    metadata["step"] = max(bundle.meta.step for bundle in bundles)
    metadata["scores"] = {}
    metadata["weights_dtype"] = dtype
    metadata["target_shortlist"] = _shortlist_union(bundles)
    if name:
        metadata["name"] = name
    weights = {
        f"{ENSEMBLE_PREFIX}.{index}.{key}": tensor
        for index, bundle in enumerate(bundles)
        for key, tensor in bundle.state_dict.items()
    }
    return save_bundle(
        out, weights, first.config, metadata, first.tokenizer_files, weights_dtype=_DTYPES[dtype]
    )


def extract_member(
    ensemble: Path,
    index: int,
    out: Path,
    dtype: ExportDtype = "float16",
    name: str | None = None,
) -> Path:
    """Write member `index` (0-based, in metadata.json's `ensemble` order) of an ensemble
    bundle as a single-model bundle: to serve or evaluate it alone, or to start a run
    from it (`train.init_from`). Its metadata takes the member's own record (name, step,
    seed, data, warm start) and says where it was taken from (`extracted_from`); its
    target shortlist is the ensemble's (the members' union, so it holds the member's own);
    its config is the one its record holds (an ensemble exported before records held one:
    the ensemble's, i.e. the first member's, with the member's own seed and warm start).

    Raises CheckpointError when `ensemble` is missing, corrupt or a single model, or
    `index` is not one of its members.
    """
    if dtype not in _DTYPES:
        raise CheckpointError(f"unknown dtype {dtype!r}; choose one of {', '.join(_DTYPES)}")
    _refuse_overwriting(out, [ensemble])
    bundle = load_bundle(ensemble)
    records = bundle.meta.ensemble
    if not records:
        raise CheckpointError(
            f"{ensemble}: is a single model, not an ensemble (use it as it is, without --member)"
        )
    if not 0 <= index < len(records):
        raise CheckpointError(
            f"{ensemble} has {len(records)} members (0 to {len(records) - 1}); no member {index}"
        )
    record = records[index]
    prefix = f"{ENSEMBLE_PREFIX}.{index}."
    weights = {
        key.removeprefix(prefix): tensor
        for key, tensor in bundle.state_dict.items()
        if key.startswith(prefix)
    }
    dropped = {"files", "scores", "ensemble", "tied_weights"}
    metadata = {k: v for k, v in bundle.metadata.items() if k not in dropped}
    own = ("name", "step", "epoch", "train_seconds", "data_manifest_hash", "data_derived_from")
    metadata |= {key: record.get(key) for key in own}
    metadata |= {"init_from": record.get("init_from"), "exported_from": record.get("averaged_from")}
    metadata["extracted_from"] = {
        "path": str(bundle.path.resolve()),
        "member": index,
        "weights_sha256": bundle.metadata["files"][WEIGHTS_FILE],
    }
    metadata["scores"] = {}
    metadata["weights_dtype"] = dtype
    if name:
        metadata["name"] = name
    metadata["seed"] = record.get("seed", bundle.config.train.seed)
    if "config" in record:
        try:
            config = config_from_dict(record["config"])
        except ConfigError as err:
            raise CheckpointError(f"{ensemble}: member {index}'s config: {err}") from None
    else:
        own_train = {
            "seed": metadata["seed"],
            "init_from": (record.get("init_from") or {}).get("bundle"),
        }
        train = bundle.config.train.model_copy(update=own_train)
        config = bundle.config.model_copy(update={"train": train})
        metadata["config_from"] = _FIRST_MEMBERS_CONFIG
        logger.warning("%s: member %d's config.json: %s", ensemble, index, _FIRST_MEMBERS_CONFIG)
    return save_bundle(
        out, weights, config, metadata, bundle.tokenizer_files, weights_dtype=_DTYPES[dtype]
    )


def _member_record(bundle: Bundle) -> dict[str, Any]:
    """Where an ensemble member came from: enough to find and check it again."""
    return {
        "path": str(bundle.path.resolve()),
        "name": bundle.meta.name,
        "step": bundle.meta.step,
        "epoch": bundle.metadata.get("epoch"),
        "train_seconds": bundle.metadata.get("train_seconds"),
        "seed": bundle.config.train.seed,
        "weights_sha256": bundle.metadata["files"][WEIGHTS_FILE],
        "data_manifest_hash": bundle.meta.data_manifest_hash,
        "data_derived_from": bundle.meta.data_derived_from,
        "init_from": bundle.metadata.get("init_from"),
        "averaged_from": (
            bundle.metadata.get("exported_from") or bundle.metadata.get("averaged_from")
        ),
        "config": config_to_dict(bundle.config),  # its own training settings and data
    }


def _latest(bundles: list[Bundle]) -> Bundle:
    """The most trained checkpoint (highest step): an average's step, epoch and training
    time are those of the last weights in it, whatever order they were given in."""
    return max(bundles, key=lambda bundle: bundle.metadata.get("step") or 0)


def _load_compatible(checkpoints: list[Path]) -> list[Bundle]:
    if not checkpoints:
        raise CheckpointError("no checkpoints given")
    bundles = [load_bundle(path) for path in checkpoints]
    first = bundles[0]
    for other in bundles[1:]:
        if differ := config_differences(first.config, other.config, within=RUN_FIELDS):
            raise CheckpointError(
                f"{other.path}: {differ_phrase(differ)} from {first.path}: these are not "
                "checkpoints of one run (to combine runs: nmt export A B --ensemble --out DIR)"
            )
        if other.tokenizer_files != first.tokenizer_files:
            raise CheckpointError(f"{other.path}: tokenizer differs from {first.path}")
        if other.state_dict.keys() != first.state_dict.keys():
            raise CheckpointError(
                f"{other.path}: its weights are not laid out as {first.path}'s "
                "(an ensemble and a single model cannot be averaged)"
            )
    return bundles


def _refuse_overwriting(out: Path, inputs: list[Path]) -> None:
    """CheckpointError when `out` is one of the input bundles (or a link to one): writing
    it would replace the input before anything else could read it."""
    target = Path(out).resolve()
    for path in inputs:
        if Path(path).resolve() == target:
            raise CheckpointError(f"--out {out} is one of the input bundles; choose another")


def _common_shortlist(bundles: list[Bundle]) -> list[int] | None:
    """The target shortlist the bundles record (one saved before runs recorded it has
    none); CheckpointError when two record different ones (different training data)."""
    recorded = [b.meta.target_shortlist for b in bundles if b.meta.target_shortlist]
    if any(ids != recorded[0] for ids in recorded[1:]):
        raise CheckpointError("the checkpoints record different target shortlists")
    return recorded[0] if recorded else None


def _shortlist_union(bundles: list[Bundle]) -> list[int] | None:
    """Every piece some member's shortlist holds, sorted (each member may say what it
    learnt); members saved before runs recorded one are left out; None when none has one."""
    recorded = [b.meta.target_shortlist for b in bundles if b.meta.target_shortlist]
    return sorted({piece for ids in recorded for piece in ids}) if recorded else None


def _mean_weights(bundles: list[Bundle]) -> dict[str, torch.Tensor]:
    """Float tensors averaged in float32 (then back to their dtype); others from the first."""
    first = bundles[0].state_dict
    if len(bundles) == 1:
        return dict(first)
    averaged: dict[str, torch.Tensor] = {}
    done: dict[int, torch.Tensor] = {}  # tied weights (one tensor, several names) stay tied
    for name, tensor in first.items():
        if id(tensor) not in done:
            stacked = torch.stack([b.state_dict[name].float() for b in bundles])
            done[id(tensor)] = (
                stacked.mean(0).to(tensor.dtype) if tensor.is_floating_point() else tensor
            )
        averaged[name] = done[id(tensor)]
    return averaged


def add_target_shortlist(bundle_dir: Path, data_dir: Path) -> int:
    """Record in `bundle_dir`'s metadata.json the target shortlist (nmt.model.shortlist) of
    the prepared data it was trained on, in place; the shortlist's size.

    Only metadata.json changes (it is not among the hashed files), written atomically.
    Raises DataError when `data_dir` is not the data the bundle records
    (`data_manifest_hash`) and CheckpointError for a corrupt bundle.
    """
    bundle = _trained_on(bundle_dir, data_dir)
    name = "spm.tgt.model" if "spm.tgt.model" in bundle.tokenizer_files else "spm.model"
    tokenizer = Tokenizer.from_bytes(bundle.tokenizer_files[name])
    specials = (tokenizer.pad_id, tokenizer.unk_id, tokenizer.bos_id, tokenizer.eos_id)
    ids = target_shortlist(load_token_ids(data_dir, "train").tgt, tokenizer.vocab_size, specials)
    metadata = {**bundle.metadata, "target_shortlist": ids}
    write_json_atomic(Path(bundle_dir) / METADATA_FILE, metadata)
    return len(ids)


def add_source_words(bundle_dir: Path, data_dir: Path) -> int:
    """Record in `bundle_dir`'s metadata.json the word counts of the training source it was
    trained on (`source_words`; nmt.text.names keeps the rare names), in place; how many
    distinct words. Errors and atomicity as `add_target_shortlist`.
    """
    bundle = _trained_on(bundle_dir, data_dir)
    counts = source_word_counts(data_dir)
    write_json_atomic(Path(bundle_dir) / METADATA_FILE, {**bundle.metadata, "source_words": counts})
    return len(counts)


def add_data_derived_from(bundle_dir: Path, data_dir: Path) -> str | None:
    """Record in `bundle_dir`'s metadata.json which data its distilled training data came
    from (`data_derived_from`, so its valid and test splits count as the model's), in
    place; that hash, or None when `data_dir` is not distilled. Errors and atomicity as
    `add_target_shortlist`.
    """
    bundle = _trained_on(bundle_dir, data_dir)
    origin = derived_from(load_manifest(data_dir))
    write_json_atomic(
        Path(bundle_dir) / METADATA_FILE, {**bundle.metadata, "data_derived_from": origin}
    )
    return origin


def _trained_on(bundle_dir: Path, data_dir: Path) -> Bundle:
    """The bundle, once `data_dir` is known to be the prepared data it was trained on."""
    bundle = load_bundle(Path(bundle_dir))
    expected = bundle.meta.data_manifest_hash
    if not expected or manifest_hash(data_dir) != expected:
        raise DataError(f"{data_dir} is not the prepared data {bundle_dir} was trained on")
    return bundle
