"""Batched greedy and beam search over `model.encode()` / `model.decode_step()`."""

from nmt.decoding.beam import beam_search
from nmt.decoding.greedy import greedy_search
from nmt.decoding.search import search
from nmt.decoding.types import Hypothesis, SearchOptions

__all__ = ["Hypothesis", "SearchOptions", "beam_search", "greedy_search", "search"]
