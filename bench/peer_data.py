"""The peer's training data, and one batch size in real tokens for both systems.

The peer (OpenNMT-py 3.5.1) reads text: the pieces of our own token ids joined by spaces,
one sentence per line in split order, the pack of ../shared/peers/README.md, made by
bench/gpu/kit.py `make_peer_pack` and unpacked here into a git-ignored folder.

The two batchers count differently, so one budget number cannot be copied across:
- ours (nmt.data.batching): sorted by (target, source) length, cut greedily so that
  B * (max source ids incl. eos + max target pieces + 1) <= data.max_tokens;
- OpenNMT-py 3.5.1 (onmt/inputters/dynamic_iterator.py, batch_type tokens): a bucket sorted
  by (source, target) length, cut greedily so that B * max(max source pieces,
  max target pieces + 2) <= batch_size; a sentence whose source text is already in the
  batch being filled is dropped (training only); batch_size_multiple is 1 in fp32.
Both are compared in OpenNMT-py's counting of real tokens: source pieces + target pieces +
one eos per target (its `srclen` and non-pad `tgt[1:]`); ours adds an eos to every source,
so our source count is one per sentence higher. `calibrate_peer_batch` picks the peer's
batch_size whose mean real tokens per batch, simulated on the training data, equals ours.
"""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np

from nmt.data.batching import batch_indices, keep_mask
from nmt.data.dataset import ParallelIds, load_manifest, manifest_hash

KIT_MODULE = Path(__file__).resolve().parent / "gpu" / "kit.py"
DONE = ".complete"  # written last: a folder without it is rebuilt


def _kit() -> ModuleType:
    """bench/gpu/kit.py, which owns the pack format."""
    spec = importlib.util.spec_from_file_location("bench_gpu_kit", KIT_MODULE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass(frozen=True)
class PeerData:
    """The unpacked pack: folder, language codes and the training files."""

    folder: Path
    src_lang: str
    tgt_lang: str

    @property
    def train_src(self) -> Path:
        """Source pieces, one training sentence per line."""
        return self.folder / f"train.sp.{self.src_lang}"

    @property
    def train_tgt(self) -> Path:
        """Target pieces, one training sentence per line."""
        return self.folder / f"train.sp.{self.tgt_lang}"


def build_peer_data(data_dir: Path, root: Path) -> PeerData:
    """The pack of `data_dir`, unpacked in root/<manifest hash[:12]>/ (reused when complete).

    The folder also keeps the pack itself (peer-pack.tar.gz), which
    ../shared/peers/opennmt_rnn.sh reads. Raises nmt.errors.DataError (no prepared data)
    or NmtError (not one joint sentencepiece model).
    """
    languages = load_manifest(data_dir)["languages"]
    folder = root / manifest_hash(data_dir)[:12]
    data = PeerData(folder, languages["src"], languages["tgt"])
    if (folder / DONE).is_file():
        return data
    shutil.rmtree(folder, ignore_errors=True)
    kit = _kit()
    pack = kit.make_peer_pack(data_dir, folder / kit.PACK_NAME)
    kit.unpack_prepared(pack, folder)  # the same checked extraction as the GPU kit's
    (folder / DONE).write_text(str(data_dir.resolve()) + "\n", encoding="utf-8")
    return data


def our_real_tokens_per_batch(ids: ParallelIds, max_tokens: int, max_length: int | None) -> float:
    """Mean real tokens (the peer's counting) per batch of one epoch of our batcher.

    Per kept example: source pieces + target pieces + 1 = our source length (eos included)
    + target pieces. The cut depends on lengths only, so the seed does not matter.
    """
    src_len, tgt_len = ids.src_lengths, ids.tgt_lengths
    plan = batch_indices(src_len, tgt_len, max_tokens, False, 0, 0, max_length)
    kept = keep_mask(src_len, tgt_len, max_length)
    return float((src_len[kept] + tgt_len[kept]).sum()) / max(len(plan), 1)


def peer_batches(
    src_pieces: np.ndarray, tgt_pieces: np.ndarray, src_keys: Sequence[Hashable], batch_size: int
) -> list[list[int]]:
    """Example indices per batch as OpenNMT-py 3.5.1 cuts one sorted bucket (training, fp32).

    src_pieces, tgt_pieces: (n,) lengths without specials; src_keys[i] identifies the source
    text (duplicates within a batch being filled are dropped, as the peer does).
    """
    longest = np.maximum(src_pieces, tgt_pieces + 2)  # its tgt_ids hold bos + pieces + eos
    order = np.lexsort((tgt_pieces, src_pieces)).tolist()  # stable, like its sorted()
    batches: list[list[int]] = []
    batch: list[int] = []
    seen: set[Hashable] = set()
    widest = 0
    for index in order:
        if src_keys[index] in seen:
            continue
        seen.add(src_keys[index])
        batch.append(index)
        widest = max(widest, int(longest[index]))
        size = len(batch) * widest
        if size == batch_size:
            batches.append(batch)
            batch, seen, widest = [], set(), 0
        elif size > batch_size and len(batch) > 1:  # the last sentence opens the next batch
            batches.append(batch[:-1])
            batch, seen, widest = batch[-1:], set(), int(longest[index])
        # a lone sentence over budget stays: the peer warns and lets the batch grow
    if batch:
        batches.append(batch)
    return batches


def peer_real_tokens_per_batch(
    src_pieces: np.ndarray, tgt_pieces: np.ndarray, src_keys: Sequence[Hashable], batch_size: int
) -> float:
    """Mean real tokens (source + target pieces + 1) per batch of `peer_batches`."""
    batches = peer_batches(src_pieces, tgt_pieces, src_keys, batch_size)
    real = src_pieces + tgt_pieces + 1
    return float(sum(int(real[b].sum()) for b in batches)) / max(len(batches), 1)


def calibrate_peer_batch(
    ids: ParallelIds, target: float, start: int = 4096, rounds: int = 8
) -> tuple[int, float]:
    """(batch_size, its simulated mean real tokens per batch) closest to `target`.

    Secant-like steps on batch_size (mean real tokens grow about linearly with it), at most
    `rounds` simulations; stops within 0.5 % of target.
    """
    src_pieces = ids.src_lengths - 1  # our source ids end with eos; the peer's pieces do not
    tgt_pieces = ids.tgt_lengths
    keys = [ids.source(i).tobytes() for i in range(len(ids))]
    size, best = max(start, 1), (max(start, 1), float("nan"))
    tried: dict[int, float] = {}
    for _ in range(rounds):
        if size in tried:
            break
        tried[size] = peer_real_tokens_per_batch(src_pieces, tgt_pieces, keys, size)
        if np.isnan(best[1]) or abs(tried[size] - target) < abs(best[1] - target):
            best = (size, tried[size])
        if abs(tried[size] - target) <= 0.005 * target:
            break
        size = max(1, round(size * target / max(tried[size], 1e-9)))
    return best
