"""SentencePiece training and the Tokenizer wrapper (nmt.data.tokenizer)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from nmt.data.tokenizer import Tokenizer, train_sentencepiece
from nmt.errors import DataError

EN = ["the", "a", "cat", "dog", "sees", "big", "small", "house", "runs", "eats", "quickly", "today"]
FR = [
    "le",
    "la",
    "chat",
    "chien",
    "voit",
    "grande",
    "petite",
    "maison",
    "court",
    "mange",
    "vite",
    "été",
]


def tiny_sentences(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    words = EN + FR
    return [" ".join(rng.choices(words, k=rng.randint(2, 7))).capitalize() + " !" for _ in range(n)]


@pytest.fixture(scope="module")
def proto() -> bytes:
    return train_sentencepiece(tiny_sentences(300), vocab_size=80, hard_vocab_limit=False)


def test_round_trip_and_specials(proto: bytes) -> None:
    tok = Tokenizer.from_bytes(proto)
    assert (tok.pad_id, tok.unk_id, tok.bos_id, tok.eos_id) == (0, 1, 2, 3)
    assert tok.id_to_piece([0, 1, 2, 3]) == ["<pad>", "<unk>", "<s>", "</s>"]
    assert 20 < tok.vocab_size <= 80
    for text in tiny_sentences(50, seed=1) + ["Le chat voit été !"]:
        ids = tok.encode(text)
        assert min(ids) > 3
        assert tok.decode(ids) == text
    assert tok.decode([tok.bos_id, *tok.encode("Le chat"), tok.eos_id, tok.pad_id]) == "Le chat"
    batch = tok.encode_batch(["Le chat", "The dog"])
    assert batch == [tok.encode("Le chat"), tok.encode("The dog")]


def test_training_is_deterministic(proto: bytes) -> None:
    again = train_sentencepiece(tiny_sentences(300), vocab_size=80, hard_vocab_limit=False)
    assert again == proto
    bpe = train_sentencepiece(tiny_sentences(300), 80, "bpe", hard_vocab_limit=False)
    assert (
        Tokenizer.from_bytes(bpe).decode(Tokenizer.from_bytes(bpe).encode("Le chat")) == "Le chat"
    )


def test_load_bytes_and_hash(proto: bytes, tmp_path: Path) -> None:
    path = tmp_path / "spm.model"
    path.write_bytes(proto)
    loaded = Tokenizer.load(path)
    assert loaded.model_bytes == proto
    assert loaded.sha256 == Tokenizer.from_bytes(loaded.model_bytes).sha256
    assert len(loaded.sha256) == 64
    with pytest.raises(DataError):
        Tokenizer.load(tmp_path / "missing.model")
    with pytest.raises(DataError):
        Tokenizer.from_bytes(b"not a model")
