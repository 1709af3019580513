"""One entry point that picks greedy or beam search from the options."""

from __future__ import annotations

from torch import Tensor

from nmt.decoding.beam import beam_search
from nmt.decoding.graphs import graphed_beam_search, uses_cuda_graphs
from nmt.decoding.greedy import greedy_search
from nmt.decoding.protocol import Decodable
from nmt.decoding.types import Hypothesis, SearchOptions


def search(
    model: Decodable,
    src: Tensor,
    src_lengths: Tensor,
    options: SearchOptions,
    bos_id: int = 2,
    eos_id: int = 3,
    keep_attention: bool = False,
) -> list[list[Hypothesis]]:
    """Decode a padded batch src (B, S): greedy for beam 1 and 1-best, beam search otherwise;
    on CUDA, beam search on fixed shapes with graph-replayed steps (nmt.decoding.graphs),
    which finds the same hypotheses (beam size 1 is greedy search there too).

    src (B, S) long piece ids, src_lengths (B,) long true lengths; B sentences, S source
    pieces. Returns per sentence 1 to n_best distinct hypotheses, best first (scores in
    natural-log units). Raises ValueError for a beam_size or n_best below 1.

    `keep_attention` records each hypothesis's attention even when the options do not
    return it (the translator's text boundary needs it to align words).
    """
    if options.beam_size < 1 or options.n_best < 1:
        raise ValueError(
            f"beam_size and n_best must be >= 1, got {options.beam_size} and {options.n_best}"
        )
    if uses_cuda_graphs(model, src, options):  # the same hypotheses, host-light on a GPU
        return graphed_beam_search(model, src, src_lengths, options, bos_id, eos_id, keep_attention)
    if options.beam_size == 1 and options.n_best == 1:
        return greedy_search(model, src, src_lengths, options, bos_id, eos_id, keep_attention)
    return beam_search(model, src, src_lengths, options, bos_id, eos_id, keep_attention)
