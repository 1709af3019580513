"""Validation of a model on the valid split: loss and perplexity, BLEU and chrF.

Pure in the sense that matters: model and data in, scores out; nothing is written and the
model's weights and train/eval mode are as they were. Rank 0 alone calls it.
"""

from __future__ import annotations

import math

import torch

from nmt.config import Config
from nmt.data.batching import batch_indices
from nmt.data.dataset import ParallelIds
from nmt.data.tokenizer import Tokenizer
from nmt.decoding.types import SearchOptions
from nmt.evaluation.metrics import score_corpus
from nmt.model import Seq2Seq
from nmt.training.loss import sequence_loss
from nmt.training.setup import ValidationSet
from nmt.training.step import device_batch, mixed_precision
from nmt.translator import ModelDescription, NeuralTranslator


def validate(
    model: Seq2Seq,
    valid: ValidationSet,
    src_tok: Tokenizer,
    tgt_tok: Tokenizer,
    config: Config,
    device: torch.device,
) -> dict[str, float]:
    """{valid_loss (nats/token), valid_ppl, valid_bleu, valid_chrf} of `model` on `valid`."""
    was_training = model.training
    scores = validation_loss(model, valid.ids, tgt_tok, config, device)
    scores.update(validation_bleu(model, valid, src_tok, tgt_tok, config, device))
    model.train(was_training)
    return scores


@torch.no_grad()
def validation_loss(
    model: Seq2Seq, ids: ParallelIds, tgt_tok: Tokenizer, config: Config, device: torch.device
) -> dict[str, float]:
    """Teacher-forced token NLL (no label smoothing) over every pair of `ids`, and its exp."""
    model.eval()
    nll, tokens = 0.0, 0
    batches = batch_indices(
        ids.src_lengths, ids.tgt_lengths, config.data.max_tokens, shuffle=False, seed=0, epoch=0
    )
    for indices in batches:
        batch = device_batch(ids, indices, tgt_tok, device)
        with mixed_precision(device, config.train.amp):
            out = model(batch.src, batch.src_lengths, batch.tgt_in)
        loss = sequence_loss(out.scores, batch.tgt_out, tgt_tok.pad_id)
        nll += float(loss.nll_sum)
        tokens += loss.n_tokens
    mean = nll / max(tokens, 1)
    return {"valid_loss": mean, "valid_ppl": math.exp(min(mean, 50.0))}


def validation_bleu(
    model: Seq2Seq,
    valid: ValidationSet,
    src_tok: Tokenizer,
    tgt_tok: Tokenizer,
    config: Config,
    device: torch.device,
) -> dict[str, float]:
    """Corpus BLEU and chrF (sacreBLEU) of the model's translations of `valid.sources`.

    Searches as `nmt translate` would with the model's own decode settings, except for the
    beam size, which is `train.valid_beam_size`.
    """
    defaults = SearchOptions.from_decode(config.decode)
    description = ModelDescription(name=config.name, search_defaults=defaults)
    translator = NeuralTranslator(
        model, src_tok, tgt_tok, device, description, batch_size=config.decode.batch_size
    )
    options = defaults.merged(beam_size=config.train.valid_beam_size)
    with mixed_precision(device, config.train.amp):
        hypotheses = [t.text for t in translator.translate(valid.sources, options)]
    score = score_corpus(hypotheses, valid.references)
    return {"valid_bleu": score.bleu, "valid_chrf": score.chrf}
