"""Set-up of a training run: everything the loop needs, built once and then never rebound.

`setup_run` reads the prepared data, builds the model, its DDP/compile wrapping, the
optimizer and schedule, and opens RUN_DIR; it returns a frozen `TrainingRun`. The objects
inside (weights, optimizer moments) change as training goes; which objects they are does not.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch.nn.parallel import DistributedDataParallel
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler, ReduceLROnPlateau

from nmt.config import Config
from nmt.data.dataset import (
    ParallelIds,
    derived_from,
    load_manifest,
    load_token_ids,
    manifest_hash,
    read_groups,
    source_word_counts,
)
from nmt.data.tokenizer import Tokenizer, load_tokenizers
from nmt.errors import NmtError
from nmt.model import Seq2Seq, build_model
from nmt.model.compiled import CompiledForward, CompileSettings
from nmt.model.shortlist import target_shortlist
from nmt.runtime import cpu_has_native_bf16, resolve_device, seed_everything
from nmt.training.distributed import DistContext, init_distributed
from nmt.training.optim import build_optimizer, build_scheduler
from nmt.training.run_dir import BundleIdentity, RunDirectory
from nmt.training.warm_start import load_initial_weights

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ValidationSet:
    """The valid split twice over: token ids for the loss, sentences for BLEU."""

    ids: ParallelIds  # every valid pair, for the loss
    sources: list[str]  # at most train.valid_max_sentences, spread over the split
    references: list[list[str]]  # one list of references per source


@dataclass(frozen=True)
class TrainingRun:
    """A frozen description of one run: config, data, model, optimizer, device, RUN_DIR."""

    config: Config
    data_dir: Path
    device: torch.device
    dist: DistContext
    model: Seq2Seq  # the bare model: state dicts, validation, checkpoints
    forward: torch.nn.Module  # the model as trained: DDP- and/or compile-wrapped
    optimizer: Optimizer
    scheduler: LRScheduler | ReduceLROnPlateau
    src_tok: Tokenizer
    tgt_tok: Tokenizer  # the same object as src_tok for a joint vocabulary
    train_ids: ParallelIds
    valid: ValidationSet
    run_dir: RunDirectory
    cpu_bf16: bool = False  # bf16 autocast in the CPU training step (train.cpu_amp, native)

    @property
    def lr_follows_validation(self) -> bool:
        """True when the LR schedule steps on validation BLEU instead of on every update."""
        return isinstance(self.scheduler, ReduceLROnPlateau)


def setup_run(config: Config, data_dir: Path, run_dir: Path, resume: bool) -> TrainingRun:
    """Build a run from a config and a prepared-data directory; seeds every generator.

    Joins the process group when torchrun started several processes. Raises NmtError for a
    model the config cannot build, for RUN_DIR holding a run without `resume`, and DataError
    (via nmt.data) for missing or corrupt prepared data.
    """
    data_dir = Path(data_dir)
    device = resolve_device(config.train.device)
    dist = init_distributed(device.type)
    if dist.enabled and device.type == "cuda":
        device = torch.device("cuda", dist.local_rank)
    seed_everything(config.train.seed)  # before the model: its initial weights come from it
    manifest = load_manifest(data_dir)
    src_tok, tgt_tok = load_tokenizers(data_dir)
    model = _build_model(config, src_tok, tgt_tok)
    init_from = None
    if config.train.init_from is not None and not resume:  # a resume restores its own weights
        tokenizer_sha256 = {"src": src_tok.sha256, "tgt": tgt_tok.sha256}
        init_from = asdict(load_initial_weights(model, config, tokenizer_sha256))
    model = model.to(device)
    forward: torch.nn.Module = model
    if config.train.compile:  # the decoder loop compiled in chunks; the rest stays eager
        forward = CompiledForward(model, CompileSettings(backend=config.train.compile_backend))
    if dist.enabled:  # DDP broadcasts rank 0's initial weights
        forward = DistributedDataParallel(forward)
    optimizer = build_optimizer(model, config.train)
    scheduler = build_scheduler(optimizer, config.train)
    train_ids = load_token_ids(data_dir, "train")
    valid = validation_set(data_dir, config.train.valid_max_sentences)
    identity = _identity(config, data_dir, manifest, (src_tok, tgt_tok), train_ids, device)
    identity = replace(identity, init_from=init_from)
    directory = RunDirectory(run_dir, config, identity, _tokenizer_files(src_tok, tgt_tok))
    directory.open(resume, dist.is_main)
    return TrainingRun(
        config=config,
        data_dir=data_dir,
        device=device,
        dist=dist,
        model=model,
        forward=forward,
        optimizer=optimizer,
        scheduler=scheduler,
        src_tok=src_tok,
        tgt_tok=tgt_tok,
        train_ids=train_ids,
        valid=valid,
        run_dir=directory,
        cpu_bf16=_cpu_bf16(config, device),
    )


def _cpu_bf16(config: Config, device: torch.device) -> bool:
    """Whether the CPU training step runs under bf16 autocast: `train.cpu_amp` on a CPU
    device that multiplies bf16 natively; a warning when asked for and not native."""
    if not config.train.cpu_amp or device.type != "cpu":
        return False
    if not cpu_has_native_bf16():
        logger.warning(
            "train.cpu_amp: this CPU has no native bf16 (AVX512-BF16/AMX); training in fp32"
        )
        return False
    return True


def _build_model(config: Config, src_tok: Tokenizer, tgt_tok: Tokenizer) -> Seq2Seq:
    try:
        return build_model(
            config.model,
            src_tok.vocab_size,
            tgt_tok.vocab_size,
            pad_id=tgt_tok.pad_id,
            joint_vocab=src_tok is tgt_tok,
        )
    except ValueError as err:
        raise NmtError(f"cannot build the model: {err}") from None


def _identity(
    config: Config,
    data_dir: Path,
    manifest: dict[str, Any],
    tokenizers: tuple[Tokenizer, Tokenizer],
    train_ids: ParallelIds,
    device: torch.device,
) -> BundleIdentity:
    src_tok, tgt_tok = tokenizers
    specials = (tgt_tok.pad_id, tgt_tok.unk_id, tgt_tok.bos_id, tgt_tok.eos_id)
    return BundleIdentity(
        name=config.name,
        src_lang=manifest["languages"]["src"],
        tgt_lang=manifest["languages"]["tgt"],
        seed=config.train.seed,
        data_manifest_hash=manifest_hash(data_dir),
        data_source_sha256=manifest["source"]["sha256"],
        tokenizer_sha256={"src": src_tok.sha256, "tgt": tgt_tok.sha256},
        device=str(device),
        target_shortlist=tuple(target_shortlist(train_ids.tgt, tgt_tok.vocab_size, specials)),
        source_words=source_word_counts(data_dir),
        data_derived_from=derived_from(manifest),
    )


def _tokenizer_files(src_tok: Tokenizer, tgt_tok: Tokenizer) -> dict[str, bytes]:
    """The sentencepiece model(s) as bundle files: one joint model, or one per side."""
    if src_tok is tgt_tok:
        return {"spm.model": src_tok.model_bytes}
    return {"spm.src.model": src_tok.model_bytes, "spm.tgt.model": tgt_tok.model_bytes}


def validation_set(data_dir: Path, max_sentences: int | None) -> ValidationSet:
    """The valid split's ids, and at most `max_sentences` of its sources (spread over the
    split) with all their references."""
    groups = _spread_sample(read_groups(data_dir, "valid"), max_sentences)
    return ValidationSet(
        ids=load_token_ids(data_dir, "valid"),
        sources=[g.source for g in groups],
        references=[g.references for g in groups],
    )


def _spread_sample(items: list[Any], limit: int | None) -> list[Any]:
    """At most `limit` items evenly spread over the list (Tatoeba is sorted by length)."""
    if limit is None or len(items) <= limit:
        return items
    step = len(items) / limit
    return [items[int(i * step)] for i in range(limit)]
