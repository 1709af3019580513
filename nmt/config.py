"""One typed configuration tree, loaded from YAML presets with `key.sub=value` overrides.

Every section is a frozen pydantic model with `extra="forbid"`, so a misspelt key or
an unknown choice fails loudly, naming the field and the valid values.
"""

from __future__ import annotations

import warnings
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from nmt.errors import NmtError


class ConfigError(NmtError):
    """A configuration that cannot be loaded or validated (a user mistake)."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CoverageConfig(_Section):
    """Coverage attention (Tu et al., 2016; See et al., 2017).

    `loss_weight` 1.0 is See et al.'s lambda, which they add for a short final phase of
    training; from the first update it cripples learning on Tatoeba (docs/ABLATION.md:
    -30 BLEU at 15 minutes). Start from a model trained without coverage, or set 0 for
    Tu et al.'s coverage as an attention feature only.
    """

    enabled: bool = False
    loss_weight: float = Field(1.0, ge=0.0, description="lambda in lambda * sum_j min(a_tj, c_tj)")


class CopyConfig(_Section):
    """Pointer-generator copy mechanism (See et al., 2017). Needs a joint vocabulary."""

    enabled: bool = False


# `copy` is the natural YAML key (model.copy.enabled) even though it shadows the
# deprecated BaseModel.copy(); nothing here calls that method.
warnings.filterwarnings("ignore", message='Field name "copy"', category=UserWarning)


class ModelConfig(_Section):
    """Encoder-decoder shape. Sizes are per model, not per direction."""

    rnn_type: Literal["gru", "lstm"] = "lstm"
    embedding_dim: int = Field(512, ge=1)
    hidden_dim: int = Field(
        512, ge=2, description="decoder hidden size; encoder total (both directions)"
    )
    encoder_layers: int = Field(2, ge=1)
    decoder_layers: int = Field(2, ge=1)
    bidirectional: bool = True
    attention_dim: int = Field(512, ge=1)
    dropout: float = Field(0.3, ge=0.0, lt=1.0, description="between layers and before the output")
    embedding_dropout: float = Field(0.3, ge=0.0, lt=1.0)
    recurrent_dropout: float = Field(
        0.0,
        ge=0.0,
        lt=1.0,
        description="variational dropout on decoder hidden state (one mask per sequence)",
    )
    share_embeddings: bool = Field(
        True, description="one embedding table for source and target (joint vocab)"
    )
    tie_output: bool = Field(False, description="tie target embedding and output projection")
    attention_placement: Literal["luong", "bahdanau"] = Field(
        "luong",
        description=(
            "luong: RNN first, attend with the new state s_t, feed the context to the next "
            "step (input feeding; Luong et al., 2015, section 3.3); bahdanau: attend with "
            "s_{t-1} and feed this step's context to the RNN (Bahdanau et al., 2015, section 3.1)"
        ),
    )
    coverage: CoverageConfig = CoverageConfig()
    copy: CopyConfig = CopyConfig()

    @model_validator(mode="after")
    def _check_shapes(self) -> ModelConfig:
        if self.bidirectional and self.hidden_dim % 2:
            raise ValueError("model.hidden_dim must be even when model.bidirectional is true")
        return self


class DataConfig(_Section):
    """Where the prepared data lives and how it is batched."""

    dir: str = "data/prepared/fra-eng"
    max_length: int = Field(
        100, ge=1, description="training pairs longer than this (pieces) are skipped"
    )
    max_tokens: int = Field(
        4096, ge=1, description="token budget per batch (source + target, padded)"
    )
    bucket_width: int = Field(1, ge=1)


# The widest beam any search runs: configs, `SearchOptions.merged` (the command line,
# validation) and both HTTP APIs refuse more. The service's limit; configs allowed 64.
MAX_BEAM_SIZE = 16

# How inference weights run: "int8" dynamic quantization of every matrix product (CPU only,
# nmt.model.quantize), "none" (the trained float weights), or "auto": int8 on a CPU whose
# torch has a quantized engine, none elsewhere. Measured on the shipped model (test split,
# beam 5, docs/RESULTS.md): int8 BLEU 54.51 vs 54.43, 2.0x the sentences/s.
Quantization = Literal["auto", "none", "int8"]
QUANTIZATIONS: tuple[Quantization, ...] = ("auto", "none", "int8")

# How `nmt export` stores weights (they always run in float32 or, with --quantize, int8):
# a float type, or "int8": every matrix as per-row int8 with float32 scales, vectors in
# float16 (nmt.storage.quantize_rows).
ExportDtype = Literal["float32", "float16", "bfloat16", "int8"]
EXPORT_DTYPES: tuple[ExportDtype, ...] = ("float32", "float16", "bfloat16", "int8")


class DecodeConfig(_Section):
    """Default search settings (used by validation, translate, evaluate and serve)."""

    beam_size: int = Field(5, ge=1, le=MAX_BEAM_SIZE)
    n_best: int = Field(1, ge=1)
    length_penalty: float = Field(0.6, ge=0.0, description="GNMT alpha; 0 disables")
    coverage_penalty: float = Field(0.0, ge=0.0, description="GNMT beta; 0 disables")
    max_length_a: float = Field(
        10.0, ge=0.0, description="max target length = a + b * source length"
    )
    max_length_b: float = Field(2.0, ge=0.0)
    min_length: int = Field(0, ge=0)
    no_repeat_ngram_size: int = Field(0, ge=0)
    batch_size: int = Field(64, ge=1)


class TrainConfig(_Section):
    """Optimisation, schedule, validation and checkpointing."""

    seed: int = 1234
    device: Literal["auto", "cpu", "cuda"] = "auto"
    max_steps: int = Field(10_000, ge=1)
    max_epochs: int = Field(100, ge=1)
    max_time_s: float | None = Field(None, gt=0, description="stop after this much training time")
    init_from: str | None = Field(
        None,
        description=(
            "a bundle whose weights start the run (fine-tuning, warm restart): same model "
            "section and sentencepiece model; optimizer, schedule and step start fresh"
        ),
    )
    optimizer: Literal["adam", "adamw"] = "adam"
    learning_rate: float = Field(1e-3, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    betas: tuple[float, float] = (0.9, 0.999)
    lr_schedule: Literal["constant", "inverse_sqrt", "cosine", "plateau"] = "constant"
    warmup_steps: int = Field(0, ge=0)
    plateau_factor: float = Field(0.5, gt=0, lt=1)
    plateau_patience: int = Field(2, ge=0)
    min_learning_rate: float = Field(1e-5, ge=0)
    clip_norm: float = Field(5.0, gt=0)
    accumulation_steps: int = Field(1, ge=1)
    label_smoothing: float = Field(0.1, ge=0.0, lt=1.0)
    teacher_forcing: float = Field(1.0, ge=0.0, le=1.0, description="final teacher-forcing ratio")
    teacher_forcing_decay_steps: int = Field(
        0, ge=0, description="linear decay from 1.0 to teacher_forcing over this many steps"
    )
    amp: bool = Field(True, description="bf16 autocast on CUDA (ignored on CPU)")
    cpu_amp: bool = Field(
        False,
        description=(
            "bf16 autocast for CPU training where the CPU multiplies bf16 in hardware "
            "(AVX512-BF16/AMX); fp32 elsewhere. Validation and decoding stay fp32"
        ),
    )
    compile: bool = Field(
        False,
        description=(
            "compile the teacher-forced decoder loop in chunks (nmt.model.compiled; CUDA "
            "graphs on CUDA); scheduled sampling still runs eagerly"
        ),
    )
    compile_backend: Literal["inductor", "aot_eager"] = Field(
        "inductor", description="torch.compile backend; aot_eager traces without codegen"
    )
    valid_every: int = Field(500, ge=1)
    valid_max_sentences: int | None = Field(
        None, ge=1, description="score BLEU on this many valid sentences, spread evenly"
    )
    valid_beam_size: int = Field(1, ge=1, le=MAX_BEAM_SIZE)
    patience: int | None = Field(
        None, ge=1, description="early stop after this many non-improving validations"
    )
    keep_last: int = Field(3, ge=1)
    log_every: int = Field(50, ge=1)
    tensorboard: bool = Field(True, description="log metrics to RUN_DIR/tensorboard too")
    max_bad_steps: int = Field(
        10, ge=1, description="stop after this many consecutive non-finite losses"
    )


class Config(_Section):
    """The whole resolved configuration; saved beside every checkpoint."""

    name: str = "custom"
    model: ModelConfig = ModelConfig()
    data: DataConfig = DataConfig()
    train: TrainConfig = TrainConfig()
    decode: DecodeConfig = DecodeConfig()


def preset_names() -> list[str]:
    """Names of the presets shipped with the package."""
    folder = resources.files("nmt") / "configs"
    return sorted(p.name[: -len(".yaml")] for p in folder.iterdir() if p.name.endswith(".yaml"))


def _merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _read_yaml(preset_or_path: str, seen: tuple[str, ...] = ()) -> dict[str, Any]:
    """Read a preset or file; a `base: NAME` key layers it over another preset."""
    if preset_or_path in seen:
        raise ConfigError(f"config 'base' chain loops: {' -> '.join((*seen, preset_or_path))}")
    tree = _read_yaml_file(preset_or_path)
    base = tree.pop("base", None)
    if base is None:
        return tree
    merged = _merge(_read_yaml(str(base), (*seen, preset_or_path)), tree)
    merged["name"] = tree.get("name")  # a layered config is named after itself, not its base
    return merged


def _read_yaml_file(preset_or_path: str) -> dict[str, Any]:
    path = Path(preset_or_path)
    if path.suffix in {".yaml", ".yml"} or path.exists():
        if not path.is_file():
            raise ConfigError(f"config file not found: {path}")
        text = path.read_text(encoding="utf-8")
    else:
        resource = resources.files("nmt") / "configs" / f"{preset_or_path}.yaml"
        if not resource.is_file():
            raise ConfigError(
                f"unknown preset {preset_or_path!r}; choose one of {', '.join(preset_names())} "
                "or give a path to a .yaml file"
            )
        text = resource.read_text(encoding="utf-8")
    try:
        tree = yaml.safe_load(text) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"invalid YAML in {preset_or_path}: {err}") from None
    if not isinstance(tree, dict):
        raise ConfigError(f"{preset_or_path}: the top level must be a mapping")
    return tree


def _apply_override(tree: dict[str, Any], assignment: str) -> None:
    key, sep, raw = assignment.partition("=")
    if not sep or not key:
        raise ConfigError(f"override {assignment!r} must look like key.sub=value")
    node = tree
    parts = key.strip().split(".")
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"override {assignment!r}: {part!r} is not a section")
        node = child
    node[parts[-1]] = yaml.safe_load(raw) if raw.strip() else None


def _format_validation_error(err: ValidationError) -> str:
    lines = []
    for item in err.errors():
        where = ".".join(str(p) for p in item["loc"]) or "config"
        lines.append(f"{where}: {item['msg']}")
    return "invalid config: " + "; ".join(lines)


def config_from_dict(tree: dict[str, Any]) -> Config:
    """Validate a plain dict into a Config, raising ConfigError with readable messages."""
    try:
        return Config.model_validate(tree)
    except ValidationError as err:
        raise ConfigError(_format_validation_error(err)) from None


def load_config(preset_or_path: str, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Load a shipped preset (by name) or a YAML file, then apply `key.sub=value` overrides.

    Raises ConfigError for an unknown preset, a missing file, invalid YAML, a `base` loop,
    a malformed override or a value the schema refuses.
    """
    tree = _read_yaml(preset_or_path)
    tree["name"] = tree.get("name") or Path(preset_or_path).stem
    for assignment in overrides:
        _apply_override(tree, assignment)
    return config_from_dict(tree)


def config_to_dict(config: Config) -> dict[str, Any]:
    """A JSON-ready dict of the resolved config."""
    return config.model_dump(mode="json")


# `model` fields that only regularise training: the network's weights and what it computes
# at inference are the same whatever their values, so a warm start or an ensemble may mix them.
REGULARISATION_FIELDS = frozenset(
    {
        "model.dropout",
        "model.embedding_dropout",
        "model.recurrent_dropout",
        "model.coverage.loss_weight",
    }
)
# What makes checkpoints one run's: resuming and averaging refuse to mix these (a resumed
# run may change the others, e.g. train.max_steps).
RUN_FIELDS = ("model", "data.max_tokens", "data.max_length", "train.seed")


def config_differences(
    first: Config, second: Config, within: tuple[str, ...] | None = None
) -> list[str]:
    """The dotted leaf fields (e.g. "train.seed"), sorted, whose values differ between two
    configs; with `within`, only those equal to or under one of its dotted prefixes."""
    a, b = (_flatten(config_to_dict(config)) for config in (first, second))
    differ = sorted(key for key in a.keys() | b.keys() if a.get(key) != b.get(key))
    if within is None:
        return differ
    return [k for k in differ if any(k == f or k.startswith(f + ".") for f in within)]


def differ_phrase(fields: list[str]) -> str:
    """ "model.dropout differs", "train.seed, model.hidden_dim differ": for messages."""
    return f"{', '.join(fields)} {'differs' if len(fields) == 1 else 'differ'}"


def model_differences(first: Config, second: Config) -> list[str]:
    """The `model.*` fields (dotted, sorted) that make two configs different networks: all
    but REGULARISATION_FIELDS."""
    differ = config_differences(first, second, within=("model",))
    return [key for key in differ if key not in REGULARISATION_FIELDS]


def _flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}} -> {"a.b": 1}."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        flat.update(_flatten(value, name + ".") if isinstance(value, dict) else {name: value})
    return flat
