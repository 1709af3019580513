"""Where a training run stands (saved with every checkpoint) and how fast it goes."""

from __future__ import annotations

import dataclasses
import json
import math
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Progress:
    """Counters the loop advances; saved as JSON in `training_state.pt`, so resume restores them.

    The field names are part of the checkpoint format: bundles written since format 1 store
    exactly these, and `from_json` reads them back.
    """

    step: int = 0  # optimizer updates done
    epoch: int = 0
    batch_in_epoch: int = 0  # next global batch index of `epoch`
    best_bleu: float = -1.0
    best_step: int = 0
    validations_without_gain: int = 0
    bad_steps: int = 0  # consecutive non-finite losses
    train_seconds: float = 0.0  # time in forward/backward/update, not validation or logging
    history: list[dict[str, float]] = field(default_factory=list)  # one record per validation

    def to_json(self) -> str:
        """The JSON text stored under `progress` in the training state."""
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Progress:
        """Read back what `to_json` wrote (raises TypeError on unknown fields)."""
        return cls(**json.loads(text))

    def next_epoch(self) -> None:
        """Move to the first batch of the next epoch."""
        self.epoch += 1
        self.batch_in_epoch = 0

    def record_validation(self, record: dict[str, float]) -> bool:
        """Append a validation record; return True when its `valid_bleu` beats the best so far."""
        improved = record["valid_bleu"] > self.best_bleu
        if improved:
            self.best_bleu = record["valid_bleu"]
            self.best_step = self.step
            self.validations_without_gain = 0
        else:
            self.validations_without_gain += 1
        self.history.append(record)
        return improved


class Meter:
    """Token-weighted training loss, throughput and gradient norms between two log lines."""

    def __init__(self) -> None:
        self.nll = 0.0
        self.tgt_tokens = 0
        self.src_tokens = 0.0
        self.grad_norms: list[Any] = []  # 0-d tensors, read once at flush
        self.started = time.perf_counter()

    def add(self, nll_sum: float, tgt_tokens: int, src_tokens: float) -> None:
        """Count one micro-batch: its summed NLL (nats) and its target/source token counts."""
        self.nll += nll_sum
        self.tgt_tokens += tgt_tokens
        self.src_tokens += src_tokens

    def add_grad_norm(self, norm: Any) -> None:
        """Count one update's gradient L2 norm (before clipping): a float or a 0-d tensor."""
        self.grad_norms.append(norm)

    def flush(self) -> dict[str, float]:
        """Mean loss (nats/token), perplexity, tokens/s and gradient-norm mean/max since the
        last flush; then reset."""
        elapsed = max(time.perf_counter() - self.started, 1e-9)
        mean = self.nll / max(self.tgt_tokens, 1)
        stats = {
            "train_loss": mean,
            "train_ppl": math.exp(min(mean, 50.0)),
            "tokens_per_s": (self.src_tokens + self.tgt_tokens) / elapsed,
        }
        norms = [float(norm) for norm in self.grad_norms]
        if norms:
            stats["grad_norm_mean"] = sum(norms) / len(norms)
            stats["grad_norm_max"] = max(norms)
        self.__init__()
        return stats
