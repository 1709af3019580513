"""SentencePiece subword models: training with fixed special ids, and a small wrapper.

SentencePiece: Kudo & Richardson (2018); its unigram model: Kudo (2018).
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal

import sentencepiece as spm

from nmt.errors import DataError

PAD_ID, UNK_ID, BOS_ID, EOS_ID = 0, 1, 2, 3
SPECIAL_IDS = {"pad": PAD_ID, "unk": UNK_ID, "bos": BOS_ID, "eos": EOS_ID}
SpmType = Literal["unigram", "bpe"]


def train_sentencepiece(
    sentences: Iterable[str],
    vocab_size: int,
    model_type: SpmType = "unigram",
    seed: int = 1234,
    character_coverage: float = 1.0,
    hard_vocab_limit: bool = True,
) -> bytes:
    """Train a SentencePiece model on already-normalised sentences and return its bytes.

    Text is not normalised again (identity rule), so decode(encode(x)) == x for
    normalised x whose characters were seen in training.
    """
    spm.set_random_generator_seed(seed)
    writer = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(sentences),
        model_writer=writer,
        model_type=model_type,
        vocab_size=vocab_size,
        character_coverage=character_coverage,
        hard_vocab_limit=hard_vocab_limit,
        pad_id=PAD_ID,
        unk_id=UNK_ID,
        bos_id=BOS_ID,
        eos_id=EOS_ID,
        normalization_rule_name="identity",
        # The whole corpus fits under the cap, so sampling (the only randomness) is a no-op.
        input_sentence_size=2_000_000,
        shuffle_input_sentence=True,
        max_sentence_length=8192,
        num_threads=2,
        minloglevel=2,
    )
    return writer.getvalue()


class Tokenizer:
    """A SentencePiece processor plus the model bytes it was built from.

    Raises DataError for bytes that are not a sentencepiece model (`load`: a missing file).
    """

    def __init__(self, model_proto: bytes) -> None:
        self._proto = bytes(model_proto)
        self._sp = spm.SentencePieceProcessor()
        try:
            self._sp.LoadFromSerializedProto(self._proto)
        except (RuntimeError, OSError) as exc:
            raise DataError(f"invalid sentencepiece model: {exc}") from exc
        self.pad_id = self._sp.pad_id()
        self.unk_id = self._sp.unk_id()
        self.bos_id = self._sp.bos_id()
        self.eos_id = self._sp.eos_id()
        self._skip = {i for i in (self.pad_id, self.bos_id, self.eos_id) if i >= 0}

    @classmethod
    def load(cls, path: str | Path) -> Tokenizer:
        """Load a .model file."""
        path = Path(path)
        if not path.is_file():
            raise DataError(f"tokenizer model not found: {path}")
        return cls(path.read_bytes())

    @classmethod
    def from_bytes(cls, model_proto: bytes) -> Tokenizer:
        """Build from serialized model bytes (as embedded in checkpoints)."""
        return cls(model_proto)

    @property
    def model_bytes(self) -> bytes:
        """The serialized SentencePiece model."""
        return self._proto

    @property
    def sha256(self) -> str:
        """Hex SHA-256 of the model bytes."""
        return hashlib.sha256(self._proto).hexdigest()

    @property
    def vocab_size(self) -> int:
        """Number of pieces, specials included."""
        return self._sp.get_piece_size()

    def encode(self, text: str) -> list[int]:
        """Piece ids of one sentence (no bos/eos)."""
        return self._sp.encode(text)

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        """Piece ids of many sentences (no bos/eos)."""
        return self._sp.encode(list(texts), num_threads=2)

    def surfaces(self, text: str) -> list[tuple[str, bool]]:
        """(surface, is unknown) of each piece of one sentence: "▁" + ... spell " " + text.

        The text must be valid Unicode (no lone surrogates): see `nmt.text.clean.sanitize`.
        """
        pieces = self._sp.encode(text, out_type=str)
        return [(piece, self._sp.piece_to_id(piece) == self.unk_id) for piece in pieces]

    def decode(self, ids: Iterable[int]) -> str:
        """Text of piece ids, skipping pad/bos/eos."""
        return self._sp.decode([int(i) for i in ids if int(i) not in self._skip])

    def id_to_piece(self, ids: Iterable[int]) -> list[str]:
        """The piece string of each id."""
        return [self._sp.id_to_piece(int(i)) for i in ids]

    def vocab(self) -> list[tuple[str, float]]:
        """(piece, score) of every id, in id order."""
        return [(self._sp.id_to_piece(i), self._sp.get_score(i)) for i in range(self.vocab_size)]

    def __repr__(self) -> str:
        return f"Tokenizer(vocab_size={self.vocab_size}, sha256={self.sha256[:12]})"


def load_tokenizers(data_dir: str | Path) -> tuple[Tokenizer, Tokenizer]:
    """Source and target tokenizers of a prepared directory (the same object when joint)."""
    from nmt.data.dataset import load_manifest

    data_dir = Path(data_dir)
    info = load_manifest(data_dir)["tokenizer"]
    if info.get("joint", True):
        shared = Tokenizer.load(data_dir / "spm.model")
        return shared, shared
    return Tokenizer.load(data_dir / "spm.src.model"), Tokenizer.load(data_dir / "spm.tgt.model")
