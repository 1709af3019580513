"""Self-describing checkpoint bundles: safetensors weights + JSON + sentencepiece model(s).

The bundle format is the inference contract: training writes it, `nmt.translator` and the
service read it, so it sits at the library's floor and imports nothing from them.

A bundle is a directory:

    model.safetensors     weights (no pickle: loading never executes code)
    config.json           the resolved Config
    metadata.json         step, scores, languages, tokenizer and data hashes, file hashes
    spm.model | spm.src.model + spm.tgt.model
    training_state.pt     optimizer/scheduler/RNG/data position (resume only; weights_only load)

Bundles are written into a temporary sibling directory and renamed into place, so a
reader never sees a half-written one; `metadata.json` records the SHA-256 of every other
file, so truncation or bit flips are detected at load time.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from nmt import __version__
from nmt.config import Config, ConfigError, config_from_dict, config_to_dict
from nmt.errors import CheckpointError
from nmt.fileio import current_umask, sha256_file, write_json_atomic
from nmt.storage import dequantized, split_tied, tie, to_storable

FORMAT_VERSION = 1
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
METADATA_FILE = "metadata.json"
TRAINING_STATE_FILE = "training_state.pt"
ENSEMBLE_PREFIX = "members"  # an ensemble's weights: members.<i>.<the member's own name>


@dataclass(frozen=True)
class BundleMetadata:
    """The metadata.json fields inference reads, typed, with the defaults older bundles get.

    `name` None: not recorded (the config's name stands in). `tokenizer_sha256` maps
    "src"/"tgt" to the hashes of the tokenizers the model was trained with; empty when not
    recorded (nothing to check). `target_shortlist` None: not recorded (the translator
    scores the whole vocabulary). `source_words` None: not recorded (no name is protected).
    `ensemble` lists where each member of an ensemble bundle came from (its weights are
    stored as `members.<i>.<name>`, nmt.model.ensemble); None for a single model.
    """

    name: str | None = None
    src_lang: str = "en"
    tgt_lang: str = "fr"
    step: int = 0
    scores: dict[str, float] = field(default_factory=dict)
    data_manifest_hash: str = ""
    tokenizer_sha256: dict[str, str] = field(default_factory=dict)
    target_shortlist: list[int] | None = None  # ids the training targets use (model.shortlist)
    source_words: dict[str, int] | None = None  # training-source word counts (text.names)
    ensemble: list[dict[str, Any]] | None = None  # members' origins; None: a single model
    data_derived_from: str | None = None  # distilled data: the manifest hash of its source

    @classmethod
    def from_dict(cls, metadata: dict[str, Any]) -> BundleMetadata:
        """The fields of a parsed metadata.json; absent ones keep their defaults."""
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in metadata.items() if key in known})


@dataclass
class Bundle:
    """A loaded checkpoint: what inference needs, plus metadata."""

    path: Path
    config: Config
    metadata: dict[str, Any]
    state_dict: dict[str, torch.Tensor]
    tokenizer_files: dict[str, bytes]  # file name -> sentencepiece model bytes

    @property
    def meta(self) -> BundleMetadata:
        """The metadata fields inference and resuming read, typed."""
        return BundleMetadata.from_dict(self.metadata)

    @property
    def joint_tokenizer(self) -> bool:
        """True when source and target share one sentencepiece model."""
        return "spm.model" in self.tokenizer_files


def save_bundle(
    directory: Path,
    state_dict: dict[str, torch.Tensor],
    config: Config,
    metadata: dict[str, Any],
    tokenizer_files: dict[str, bytes],
    training_state: dict[str, Any] | None = None,
    weights_dtype: torch.dtype | None = None,
) -> Path:
    """Write a complete bundle atomically at `directory` (replacing an old bundle there).

    `weights_dtype` casts every float tensor (None: as they are); `torch.int8` stores each
    matrix as symmetric per-row int8 with float32 scales (`nmt.storage.quantize_rows`) and the rest
    (biases, vectors) in float16: about a quarter of float32's size.

    Raises CheckpointError, before writing anything, when `directory` is a file or a
    non-empty directory that is not a bundle: replacing it would delete someone's files.
    """
    directory = Path(directory)
    _check_replaceable(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.tmp-", dir=directory.parent))
    staging.chmod(0o777 & ~current_umask())  # mkdtemp makes 0700; bundles are shared files
    try:
        unique, aliases = split_tied(state_dict)
        tensors: dict[str, torch.Tensor] = {}
        for name, tensor in unique.items():
            tensors |= to_storable(name, tensor, weights_dtype)
        save_file(tensors, str(staging / WEIGHTS_FILE), metadata={"format": "nmt"})
        for name, data in tokenizer_files.items():
            (staging / name).write_bytes(data)
        write_json_atomic(staging / CONFIG_FILE, config_to_dict(config))
        if training_state is not None:
            torch.save(training_state, staging / TRAINING_STATE_FILE)
        files = {p.name: sha256_file(p) for p in sorted(staging.iterdir()) if p.is_file()}
        meta = {
            **metadata,
            "tied_weights": aliases,
            "format_version": FORMAT_VERSION,
            "package_version": __version__,
            "torch_version": torch.__version__,
            "saved_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "files": files,
        }
        write_json_atomic(staging / METADATA_FILE, meta)
        for path in staging.iterdir():  # contents on disk before the name points at them
            path.chmod(0o666 & ~current_umask())  # safetensors writes its file 0600
            _fsync_file(path)
        _fsync_dir(staging)
        _swap_into_place(staging, directory)
        _fsync_dir(directory.parent)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return directory


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _check_replaceable(directory: Path) -> None:
    """A bundle may go where nothing is, or an empty directory, a symlink or a bundle."""
    if directory.is_symlink() or not directory.exists():
        return
    if not directory.is_dir():
        raise CheckpointError(f"{directory} is a file, not a bundle directory; choose another")
    if not (directory / METADATA_FILE).is_file() and any(directory.iterdir()):
        raise CheckpointError(
            f"{directory} holds files and is not a checkpoint bundle; refusing to replace it "
            "(choose another directory, or empty it first)"
        )


def _swap_into_place(staging: Path, directory: Path) -> None:
    if directory.is_symlink() or directory.is_file():
        directory.unlink()
    if directory.exists():
        retired = directory.with_name(f".{directory.name}.old-{os.getpid()}")
        os.replace(directory, retired)
        os.replace(staging, directory)
        shutil.rmtree(retired, ignore_errors=True)
    else:
        os.replace(staging, directory)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(
            f"{path.parent}: missing {path.name}; not a checkpoint bundle"
        ) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CheckpointError(f"{path}: corrupt JSON ({err})") from None
    if not isinstance(payload, dict):
        raise CheckpointError(f"{path}: expected a JSON object")
    return payload


def verify_bundle(directory: Path) -> dict[str, Any]:
    """Check every file against the hashes in metadata.json; return the metadata.

    Raises CheckpointError when the directory, metadata.json (or its weights entry) or a
    listed file is missing, the JSON is corrupt, a file's SHA-256 does not match, or the
    bundle's `format_version` is newer than FORMAT_VERSION (or not an integer).
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise CheckpointError(f"checkpoint not found: {directory} (expected a bundle directory)")
    metadata = _read_json(directory / METADATA_FILE)
    files = metadata.get("files")
    if not isinstance(files, dict) or WEIGHTS_FILE not in files:
        raise CheckpointError(
            f"{directory}: metadata.json lists no weights; not a checkpoint bundle"
        )
    version = metadata.get("format_version", FORMAT_VERSION)
    if not isinstance(version, int) or isinstance(version, bool) or version > FORMAT_VERSION:
        raise CheckpointError(
            f"{directory}: bundle format_version {version!r}; this nmt ({__version__}) reads "
            f"format {FORMAT_VERSION} and older: upgrade nmt to load it"
        )
    for name, expected in files.items():
        path = directory / name
        if not path.is_file():
            raise CheckpointError(f"{directory}: missing file {name}")
        if sha256_file(path) != expected:
            raise CheckpointError(
                f"{directory}: {name} is corrupt (SHA-256 does not match metadata.json); "
                "the file was truncated or changed after it was written"
            )
    return metadata


def load_bundle(directory: Path) -> Bundle:
    """Load a verified bundle for inference (no training state).

    Raises CheckpointError as `verify_bundle` does, and for an invalid config, unreadable
    weights or no sentencepiece model.
    """
    directory = Path(directory)
    metadata = verify_bundle(directory)
    try:
        config = config_from_dict(_read_json(directory / CONFIG_FILE))
    except ConfigError as err:
        raise CheckpointError(f"{directory}: {err}") from None
    try:
        state_dict = dequantized(load_file(str(directory / WEIGHTS_FILE)))
        tie(state_dict, metadata.get("tied_weights", {}))
    except (SafetensorError, OSError) as err:
        raise CheckpointError(f"{directory}: cannot read weights ({err})") from None
    except CheckpointError as err:  # int8 scales or tied names that do not fit
        raise CheckpointError(f"{directory}: {err}") from None
    tokenizer_files = {
        name: (directory / name).read_bytes()
        for name in ("spm.model", "spm.src.model", "spm.tgt.model")
        if (directory / name).is_file()
    }
    if not tokenizer_files:
        raise CheckpointError(f"{directory}: no sentencepiece model in the bundle")
    return Bundle(directory, config, metadata, state_dict, tokenizer_files)


def load_training_state(directory: Path) -> dict[str, Any]:
    """Optimizer/scheduler/RNG/data position of a bundle, loaded without executing code."""
    path = Path(directory) / TRAINING_STATE_FILE
    if not path.is_file():
        raise CheckpointError(f"{directory}: no {TRAINING_STATE_FILE}; cannot resume from it")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unpickling failure means a bad file
        raise CheckpointError(f"{path}: cannot load training state ({err})") from None


def remove_bundle(directory: Path) -> None:
    """Delete a bundle: renamed out of sight first, so a crash never leaves half of one."""
    retired = directory.with_name(f".{directory.name}.old-{os.getpid()}")
    try:
        os.replace(directory, retired)
    except FileNotFoundError:
        return
    shutil.rmtree(retired, ignore_errors=True)


def remove_leftovers(directory: Path) -> None:
    """Delete staging/retired bundles a killed process left behind (names start with '.')."""
    for leftover in directory.glob(".step-*"):
        shutil.rmtree(leftover, ignore_errors=True)


def point_link(link: Path, target: Path) -> None:
    """Atomically make `link` a relative symlink to `target` (e.g. RUN_DIR/last)."""
    tmp = link.with_name(f".{link.name}.tmp-{os.getpid()}")
    tmp.unlink(missing_ok=True)
    os.symlink(os.path.relpath(target, link.parent), tmp)
    if link.exists() and not link.is_symlink():
        shutil.rmtree(link)
    os.replace(tmp, link)
