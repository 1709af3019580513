"""The best continuations of each sentence's beams without sorting K x V candidates.

Beam search needs, per sentence, the C best of total[b] + log_probs[b, v] over its K
beams b and V tokens v. Adding the totals to all (n*K, V) log-probabilities and running
`topk` over K*V values per sentence made one full write pass and the slowest read pass
of a step (on CPU, topk over 40,000 values per sentence cost about 9x the chunk maxima
below). Here the
vocabulary axis is cut into chunks of W tokens: one vectorised max per chunk, the C best
chunks per sentence (total[b] + chunk max), then `topk` over only those C*W values.

Why it is exact: every candidate better than the C-th best lies in a chunk whose score
(its best candidate) beats that value too, and fewer than C chunks can; so the C best
chunks hold C candidates at least as good as the C-th best. Adding a beam's total to a
chunk's max gives the max of the sums (rounding is monotonic), and the chosen
candidates are summed exactly as before, so the scores returned are bit-identical to
a full `topk`; only which of several exactly tied candidates comes first may differ
(`topk` does not specify that either).
Shape alphabet: n sentences, K beams, V vocabulary, C candidates wanted, W chunk width.
"""

from __future__ import annotations

import torch
from torch import Tensor

_WIDTHS = (64, 32, 16, 8, 4, 2)  # chunk widths tried, widest first (must divide V)


def chunk_width(vocab: int, beams: int, count: int) -> int:
    """The widest W in _WIDTHS dividing vocab that leaves >= count chunks; 0 if none."""
    for width in _WIDTHS:
        if vocab % width == 0 and beams * (vocab // width) >= count:
            return width
    return 0


def best_continuations(total: Tensor, log_probs: Tensor, count: int) -> tuple[Tensor, Tensor]:
    """The `count` best (score, index) of total[i, b] + log_probs[i*K + b, v] per sentence i.

    total (n, K) summed log-probabilities of the live beams; log_probs (n*K, V). Returns
    scores (n, count), best first, and their indices (n, count) into the sentence's K*V
    candidates (b * V + v), as `(total.reshape(-1, 1) + log_probs).view(n, K * V).topk(count)`
    would. Falls back to exactly that when V has no usable chunk width.
    """
    n, k = total.shape
    vocab = log_probs.size(1)
    width = chunk_width(vocab, k, count)
    if width == 0:
        flat = (total.reshape(-1, 1) + log_probs).view(n, k * vocab)
        scores, index = flat.topk(count, dim=1)
        return scores, index
    chunks = vocab // width
    maxima = log_probs.reshape(n * k, chunks, width).amax(dim=2)  # (n*K, V/W)
    chunk_scores = (total.reshape(-1, 1) + maxima).view(n, k * chunks)
    best = chunk_scores.topk(count, dim=1).indices  # (n, C): b * (V/W) + chunk
    beam = best // chunks  # (n, C)
    rows = torch.arange(n, device=total.device).unsqueeze(1) * k + beam  # (n, C) of n*K
    columns = (best % chunks).unsqueeze(2) * width + torch.arange(width, device=total.device)
    values = log_probs[rows.unsqueeze(2), columns] + total.reshape(-1)[rows].unsqueeze(2)
    scores, picked = values.view(n, count * width).topk(count, dim=1)  # (n, C)
    tokens = columns.view(n, count * width).gather(1, picked)
    return scores, beam.gather(1, picked // width) * vocab + tokens
