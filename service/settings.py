"""Service settings: one typed, validated object, buildable from `NMT_*` environment variables."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from nmt import MAX_BEAM_SIZE, Quantization

ENV_PREFIX = "NMT_"


class ServiceSettings(BaseModel):
    """Everything the service can be configured with; unknown fields are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    checkpoint: Path | None = None
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    workers: int = Field(1, ge=1)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    batching: bool = True
    max_batch: int = Field(64, ge=1)  # sentences per model batch; the batcher merges up to it
    max_wait_ms: float = Field(5.0, ge=0.0)  # how long the batcher waits for company
    max_gap_ms: float = Field(1.0, ge=0.0)  # ...but no longer than this after the last arrival
    max_chars: int = Field(5000, ge=1)  # per text
    max_texts: int = Field(128, ge=1)  # per request
    max_body_bytes: int = Field(1_000_000, ge=1)
    api_keys: list[str] = Field(default_factory=list)  # empty: no authentication
    # With keys: False lets requests without a key through (a wrong key is still refused),
    # LibreTranslate's default; True (ours) demands one.
    require_api_key: bool = True
    cors_origins: list[str] = Field(default_factory=list)
    default_beam_size: int = Field(5, ge=1, le=MAX_BEAM_SIZE)
    under_translation_threshold: float = Field(0.5, ge=0.0)
    model_card: Path | None = None  # JSON or Markdown with BLEU scores
    frontend_timeout_ms: int = Field(500, ge=0)  # LibreTranslate's frontend debounce
    # Longer than clients' idle-connection expiry (httpx: 5 s), so a client never reuses a
    # keep-alive connection at the moment the server closes it (a dropped request).
    keep_alive_s: float = Field(75.0, gt=0.0)
    # Give freed C-heap memory back to the OS at most this often (service.heap); 0: never.
    heap_trim_interval_s: float = Field(10.0, ge=0.0)
    # Once the model is loaded, exempt what is alive from Python's garbage collector.
    gc_freeze: bool = True
    quantize: Quantization = "auto"  # int8 matrix products on CPU (nmt.config.Quantization)
    shortlist: bool = True  # score only the bundle's target shortlist (nmt.model.shortlist)

    def to_env(self) -> dict[str, str]:
        """The `NMT_*` variables that `from_env` turns back into these settings."""
        env: dict[str, str] = {}
        for name, value in self.model_dump(mode="json").items():
            if value is None:
                continue
            encoded = json.dumps(value) if isinstance(value, list | bool) else str(value)
            env[ENV_PREFIX + name.upper()] = encoded
        return env

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None
    ) -> ServiceSettings:
        """Settings from `NMT_<FIELD>` variables (lists as JSON or comma-separated).

        `overrides` (e.g. command-line flags) win over the environment.
        """
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for name, field in cls.model_fields.items():
            raw = environ.get(ENV_PREFIX + name.upper())
            if raw is None:
                continue
            if "list" in str(field.annotation):
                values[name] = _parse_list(raw)
            else:
                values[name] = raw
        values.update(overrides or {})
        return cls.model_validate(values)


def _parse_list(raw: str) -> list[str]:
    """A JSON list, or a comma-separated string."""
    raw = raw.strip()
    if raw.startswith("["):
        parsed = json.loads(raw)
        return [str(item) for item in parsed]
    return [item.strip() for item in raw.split(",") if item.strip()]
