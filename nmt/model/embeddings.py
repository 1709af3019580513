"""Source/target embedding tables and the output projection (optionally tied).

With `share_embeddings` and equal vocabulary sizes (a joint vocabulary) one table
serves both sides; otherwise each side has its own. With `tie_output` the output
projection reuses the target table (Press & Wolf, 2017):
logits = E_tgt . tanh(W_p [s_t; c_t; e_t]) + b, which is why the decoder's pre-output
layer projects to the embedding size.
"""

from __future__ import annotations

from torch import nn

from nmt.config import ModelConfig


def build_embeddings(
    config: ModelConfig, src_vocab_size: int, tgt_vocab_size: int, pad_id: int, joint_vocab: bool
) -> tuple[nn.Embedding, nn.Embedding]:
    """(source, target) tables, the same object when shared (joint vocabulary only)."""
    source = nn.Embedding(src_vocab_size, config.embedding_dim, padding_idx=pad_id)
    if config.share_embeddings and joint_vocab and src_vocab_size == tgt_vocab_size:
        return source, source
    return source, nn.Embedding(tgt_vocab_size, config.embedding_dim, padding_idx=pad_id)


def build_generator(config: ModelConfig, target_embedding: nn.Embedding) -> nn.Linear:
    """The output projection E -> V; its weight is the target table when tied."""
    generator = nn.Linear(config.embedding_dim, target_embedding.num_embeddings)
    if config.tie_output:
        generator.weight = target_embedding.weight
    return generator
