"""Config tree: presets, overrides, loud failures."""

from __future__ import annotations

from pathlib import Path

import pytest

from nmt.config import (
    RUN_FIELDS,
    ConfigError,
    config_differences,
    config_from_dict,
    config_to_dict,
    differ_phrase,
    load_config,
    model_differences,
    preset_names,
)


def test_every_preset_loads_and_is_named_after_its_file() -> None:
    names = preset_names()
    assert {"tiny", "gru", "lstm", "lstm-coverage", "lstm-copy", "gru-coverage-copy"} <= set(names)
    for name in names:
        config = load_config(name)
        assert config.name == name
        assert config.model.coverage.enabled == ("coverage" in name)
        assert config.model.copy.enabled == ("copy" in name)
        expected = "bahdanau" if "bahdanau" in name else "luong"
        assert config.model.attention_placement == expected


def test_base_presets_layer() -> None:
    assert load_config("gru").model.rnn_type == "gru"
    assert load_config("gru").model.hidden_dim == load_config("lstm").model.hidden_dim


def test_overrides_parse_yaml_values() -> None:
    config = load_config(
        "tiny", ["train.max_steps=7", "model.copy.enabled=true", "train.max_time_s=null"]
    )
    assert (
        config.train.max_steps == 7
        and config.model.copy.enabled
        and config.train.max_time_s is None
    )


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("model.rnn=gru", "model.rnn: Extra inputs"),
        ("model.rnn_type=rnn", "'gru' or 'lstm'"),
        ("model.attention_placement=bahdanu", "model.attention_placement: .*'luong' or 'bahdanau'"),
        ("train.learning_rate=-1", "train.learning_rate"),
        ("novalue", "key.sub=value"),
    ],
)
def test_mistakes_fail_loudly_naming_the_field(override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config("tiny", [override])


def test_unknown_preset_lists_the_choices() -> None:
    with pytest.raises(ConfigError, match="tiny"):
        load_config("nonexistent")


def test_yaml_file_with_base_and_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("base: lstm\nmodel:\n  hidden_dim: 64\n")
    config = load_config(str(path))
    assert (
        config.name == "mine" and config.model.hidden_dim == 64 and config.model.rnn_type == "lstm"
    )
    assert config_from_dict(config_to_dict(config)) == config


def test_invalid_yaml_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("model: [unclosed\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_config(str(path))


def test_attention_placement_defaults_to_luong_and_round_trips() -> None:
    assert load_config("base").model.attention_placement == "luong"
    bahdanau = load_config("tiny", ["model.attention_placement=bahdanau"])
    assert bahdanau.model.attention_placement == "bahdanau"
    assert config_to_dict(bahdanau)["model"]["attention_placement"] == "bahdanau"
    assert config_from_dict(config_to_dict(bahdanau)) == bahdanau
    assert load_config("gru-bahdanau").model == load_config("gru").model.model_copy(
        update={"attention_placement": "bahdanau"}
    )


def test_a_config_saved_before_attention_placement_still_loads() -> None:
    saved = config_to_dict(load_config("base"))
    del saved["model"]["attention_placement"]  # config.json of an older checkpoint
    assert config_from_dict(saved) == load_config("base")


def test_config_differences_name_leaf_fields_and_model_differences_skip_regularisation() -> None:
    base = load_config("base")
    other = load_config(
        "base",
        ["train.seed=9", "model.dropout=0.1", "model.coverage.enabled=true", "data.max_tokens=9"],
    )
    assert config_differences(base, other) == [
        "data.max_tokens",
        "model.coverage.enabled",
        "model.dropout",
        "train.seed",
    ]
    assert config_differences(base, other, within=RUN_FIELDS) == [
        "data.max_tokens",
        "model.coverage.enabled",
        "model.dropout",
        "train.seed",
    ]
    assert config_differences(base, other, within=("train",)) == ["train.seed"]
    assert model_differences(base, other) == ["model.coverage.enabled"]
    assert config_differences(base, base) == [] == model_differences(base, base)
    assert differ_phrase(["train.seed"]) == "train.seed differs"
    assert differ_phrase(["a.b", "c.d"]) == "a.b, c.d differ"
