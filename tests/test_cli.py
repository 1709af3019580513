"""The command line end to end on tiny data: exit codes, messages, files."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest

from nmt import shipped_model_dir
from nmt.cli import main
from nmt.cli.common import EXIT_FAILURE
from tests.conftest import write_corpus

TRAIN_SMALL = [
    "--set",
    "model.embedding_dim=16",
    "--set",
    "model.hidden_dim=32",
    "--set",
    "model.attention_dim=16",
    "--set",
    "data.max_tokens=300",
    "--set",
    "train.max_steps=4",
    "--set",
    "train.valid_every=4",
    "--set",
    "train.max_time_s=null",
    "--quiet",
]


@pytest.fixture(scope="module")
def run_dir(prepared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "run"
    assert (
        main(
            [
                "train",
                "--config",
                "tiny",
                "--data",
                str(prepared_dir),
                "--out",
                str(out),
                *TRAIN_SMALL,
            ]
        )
        == 0
    )
    return out


def test_prepare_garbage_gives_a_summary_and_an_exit_code(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    garbage = tmp_path / "garbage.txt"
    garbage.write_bytes(b"no tab here\n\xff\xfe\tbad utf8\n\tempty\nctrl\x07\tx\n")
    code = main(
        ["data", "prepare", "--source", str(garbage), "--out", str(tmp_path / "out"), "--quiet"]
    )
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    assert "no usable" in err.lower() or "no pairs" in err.lower(), err
    assert not (tmp_path / "out" / "manifest.json").exists()


def test_prepare_then_reuse(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    corpus = write_corpus(tmp_path / "pairs.txt")
    argv = [
        "data",
        "prepare",
        "--source",
        str(corpus),
        "--out",
        str(tmp_path / "out"),
        "--vocab-size",
        "96",
        "--quiet",
    ]
    assert main(argv) == 0
    assert "wrote" in capsys.readouterr().err
    assert main(argv) == 0
    assert "reused" in capsys.readouterr().err
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert (
        manifest["splits"]["train"]["pairs"]
        + manifest["splits"]["test"]["pairs"]
        + manifest["splits"]["valid"]["pairs"]
        == 240
    )


def test_user_mistakes_exit_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    assert main(["train", "--config", "no-such-preset", "--out", str(tmp_path / "r")]) == 1
    assert main(["translate", "--checkpoint", str(tmp_path / "missing")]) == 1
    assert main(["train", "--config", "tiny", "--set", "model.rnn=gru"]) == 1
    err = capsys.readouterr().err
    assert (
        "Traceback" not in err
        and "unknown preset" in err
        and "not found" in err
        and "model.rnn" in err
    )


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["evaluate", "--beam", "1,x"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        main(["frobnicate"])
    assert exc.value.code == 2


@pytest.mark.parametrize(
    "argv",
    [
        ["translate", "--beam", "17"],
        ["evaluate", "--beam", "1,17"],
        ["attention", "Hi.", "--beam", "17"],
        ["translate", "--checkpoint", str(shipped_model_dir()), "--beam", "2", "--n-best", "3"],
    ],
)
def test_one_beam_limit_and_n_best_within_the_beam_are_usage_errors(
    argv: list[str], capsys: pytest.CaptureFixture
) -> None:
    with pytest.raises(SystemExit) as exc:
        main([*argv, "--device", "cpu"] if argv[0] != "evaluate" else argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "at most 16" in err or "n_best must be between 1 and the beam size (2)" in err


def test_translate_stdin_to_stdout(
    run_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("I see the cat.\n\nTom likes a book!\n"))
    assert (
        main(["translate", "--checkpoint", str(run_dir / "best"), "--beam", "2", "--device", "cpu"])
        == 0
    )
    lines = capsys.readouterr().out.split("\n")
    assert len(lines) == 4 and lines[1] == "" and lines[3] == ""


def test_translate_n_best_file_output(run_dir: Path, tmp_path: Path) -> None:
    source = tmp_path / "in.txt"
    source.write_text("I see the cat.\nWe want a bird.\n")
    out = tmp_path / "out.txt"
    argv = [
        "translate",
        "--checkpoint",
        str(run_dir / "best"),
        "--beam",
        "3",
        "--n-best",
        "2",
        "--input",
        str(source),
        "--output",
        str(out),
    ]
    assert main(argv) == 0
    rows = out.read_text().splitlines()
    assert len(rows) == 2 and all(len(row.split("\t")) == 4 for row in rows)


def test_evaluate_writes_a_report(
    run_dir: Path, prepared_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    report_path = tmp_path / "report.json"
    argv = [
        "evaluate",
        "--checkpoint",
        str(run_dir / "best"),
        "--data",
        str(prepared_dir),
        "--beam",
        "1,2",
        "--report",
        str(report_path),
        "--quiet",
        "--device",
        "cpu",
    ]
    assert main(argv) == 0
    report = json.loads(report_path.read_text())
    assert report["split"] == "test" and [r["beam"] for r in report["results"]] == [1, 2]
    for result in report["results"]:
        for kind in ("multi_reference", "single_reference"):
            assert "nrefs" in result[kind]["signature"]
    assert "BLEU" in capsys.readouterr().out
    assert "by source length" in report_path.with_suffix(".md").read_text()


def test_evaluate_compares_a_bundle_and_files_with_a_paired_test(
    run_dir: Path, prepared_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    groups = (prepared_dir / "test.groups.jsonl").read_text(encoding="utf-8").splitlines()
    references = [json.loads(line)["references"] for line in groups]
    perfect = tmp_path / "perfect.txt"
    perfect.write_text("".join(refs[0] + "\n" for refs in references), encoding="utf-8")
    report_path = tmp_path / "paired.json"
    argv = ["evaluate", "--hyps", str(perfect), "--data", str(prepared_dir), "--quiet"]
    argv += ["--compare", str(run_dir / "best"), str(perfect), "--beam", "1,2"]
    argv += ["--significance", "bs", "--significance-samples", "100"]
    assert main([*argv, "--device", "cpu", "--report", str(report_path)]) == 0
    report = json.loads(report_path.read_text())
    assert [r.get("hypotheses") or r["checkpoint"] for r in report["reports"]] == [
        str(perfect),
        str(run_dir / "best"),
        str(perfect),
    ]
    assert all("hypotheses" not in r for rep in report["reports"] for r in rep["results"])
    assert [test["label"] for test in report["significance"]] == ["beam 1", "beam 2"]
    for test in report["significance"]:
        baseline, model, same = test["systems"]
        assert baseline["bleu"]["score"] == pytest.approx(100.0)
        assert baseline["bleu"]["p_value"] is None
        assert model["bleu"]["score"] < 100.0 and model["bleu"]["p_value"] < 0.05
        assert same["bleu"]["p_value"] == 1.0 and test["samples"] == 100
    table = capsys.readouterr().out
    assert "perfect.txt (baseline)" in table and "Paired bootstrap resampling" in table
    assert "Paired bootstrap" in report_path.with_suffix(".md").read_text()


def test_evaluate_checks_what_it_compares_before_translating(
    prepared_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    argv = ["evaluate", "--data", str(prepared_dir), "--significance", "ar"]
    for extra, message in (
        ([], "--compare"),
        (["--compare", str(tmp_path / "missing")], "no such bundle directory or hypothesis file"),
    ):
        with pytest.raises(SystemExit) as exc:
            main([*argv, *extra])
        assert exc.value.code == 2 and message in capsys.readouterr().err


def test_attention_plot_and_average(run_dir: Path, tmp_path: Path) -> None:
    png = tmp_path / "attn.png"
    assert (
        main(
            [
                "attention",
                "I see the cat.",
                "--checkpoint",
                str(run_dir / "best"),
                "--output",
                str(png),
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    steps = sorted((run_dir / "checkpoints").iterdir())
    assert main(["average", *map(str, steps), "--out", str(tmp_path / "avg")]) == 0
    assert (tmp_path / "avg" / "model.safetensors").is_file()
    recorded = json.loads((steps[0] / "metadata.json").read_text())["target_shortlist"]
    averaged = json.loads((tmp_path / "avg" / "metadata.json").read_text())
    assert recorded and averaged["target_shortlist"] == recorded


def test_export_never_replaces_what_is_not_a_bundle(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """--out on someone's file or folder is refused with nothing lost; an old bundle or an
    empty folder is replaced."""
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "precious.txt").write_text("keep me")
    a_file = tmp_path / "a-file"
    a_file.write_text("keep me too")
    for taken in (notes, a_file):
        assert main(["export", str(run_dir / "best"), "--out", str(taken)]) == EXIT_FAILURE
        assert "choose another" in capsys.readouterr().err
    assert (notes / "precious.txt").read_text() == "keep me" and sorted(notes.iterdir()) == [
        notes / "precious.txt"
    ]
    assert a_file.read_text() == "keep me too"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left
    empty, bundle = tmp_path / "empty", tmp_path / "bundle"
    empty.mkdir()
    for out in (empty, bundle, bundle):  # the last one replaces the bundle written before
        assert main(["export", str(run_dir / "best"), "--out", str(out)]) == 0
        assert (out / "metadata.json").is_file()


def test_export_writes_a_half_precision_inference_bundle(
    run_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    from safetensors import safe_open

    from nmt.translator import load_translator

    out = tmp_path / "shipped"
    argv = ["export", str(run_dir / "best"), "--out", str(out), "--name", "demo-fr"]
    assert main(argv) == 0
    assert not (out / "training_state.pt").exists()
    with safe_open(str(out / "model.safetensors"), framework="pt") as weights:
        dtypes = {weights.get_tensor(name).dtype for name in weights.keys()}  # noqa: SIM118
    assert str(dtypes) == "{torch.float16}"
    metadata = json.loads((out / "metadata.json").read_text())
    assert metadata["name"] == "demo-fr" and metadata["weights_dtype"] == "float16"
    best = json.loads((run_dir / "best" / "metadata.json").read_text())
    assert metadata["target_shortlist"] == best["target_shortlist"]
    original = load_translator(run_dir / "best", "cpu")
    exported = load_translator(out, "cpu")
    assert exported.description.name == "demo-fr"
    sentences = ["I see the cat.", "Where is the station?"]
    assert [t.text for t in exported.translate(sentences)] == [
        t.text for t in original.translate(sentences)
    ]
    monkeypatch.setattr("sys.stdin", io.StringIO("I see the cat.\n"))
    assert main(["translate", "--checkpoint", str(out), "--device", "cpu"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 1
    first = sorted((run_dir / "checkpoints").iterdir())[0]
    later = tmp_path / "later"  # the same weights, recorded as trained 10 steps longer
    shutil.copytree(first, later)
    recorded = json.loads((first / "metadata.json").read_text())
    longer = recorded | {"step": recorded["step"] + 10, "train_seconds": 99.0}
    (later / "metadata.json").write_text(json.dumps(longer))  # not among the hashed files
    averaged = tmp_path / "averaged"
    assert main(["export", str(first), str(later), "--out", str(averaged)]) == 0
    averaged_metadata = json.loads((averaged / "metadata.json").read_text())
    tied = averaged_metadata["tied_weights"]
    assert tied and tied == metadata["tied_weights"]  # averaging keeps shared tables shared
    # an average is as trained as the last weights in it, whatever the order given
    assert averaged_metadata["step"] == longer["step"] and averaged_metadata["train_seconds"] == 99
    assert [e["step"] for e in averaged_metadata["exported_from"]] == [
        recorded["step"],
        longer["step"],
    ]


def test_without_checkpoint_the_shipped_model_is_used_or_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setattr("nmt.translator.shipped_model_dir", lambda: tmp_path / "absent")
    monkeypatch.setattr("sys.stdin", io.StringIO("Hello.\n"))
    assert main(["translate"]) == 1
    err = capsys.readouterr().err
    assert "shipped model is missing" in err and str(tmp_path / "absent") in err


def test_translate_with_int8_quantization(
    run_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("I see the cat.\n"))
    argv = ["translate", "--checkpoint", str(run_dir / "best"), "--beam", "2", "--device", "cpu"]
    assert main([*argv, "--quantize", "int8"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 1
    from nmt.translator import load_translator

    translator = load_translator(run_dir / "best", "cpu", "int8")
    assert translator.description.quantize == "int8"
    assert "DynamicQuantized" in type(translator.model.generator).__name__ or any(
        "quantized" in type(m).__module__ for m in translator.model.modules()
    )


def test_quantization_defaults_serve_int8_but_evaluate_the_trained_weights() -> None:
    from nmt.cli import build_parser
    from service.settings import ServiceSettings

    parser = build_parser()
    assert parser.parse_args(["translate"]).quantize == "auto"
    assert parser.parse_args(["evaluate", "--checkpoint", "x"]).quantize == "none"
    assert parser.parse_args(["serve"]).quantize is None  # the settings decide
    assert ServiceSettings().quantize == "auto"
    with pytest.raises(SystemExit):
        parser.parse_args(["translate", "--quantize", "int4"])


def test_no_shortlist_reaches_every_command_that_loads_a_model(
    run_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    from nmt.cli import build_parser
    from service.settings import ServiceSettings

    parser = build_parser()
    for command in (["translate"], ["evaluate", "--checkpoint", "x"]):
        assert parser.parse_args(command).no_shortlist is False
        assert parser.parse_args([*command, "--no-shortlist"]).no_shortlist is True
    assert parser.parse_args(["serve"]).no_shortlist is False
    assert parser.parse_args(["serve", "--no-shortlist"]).no_shortlist is True
    assert ServiceSettings().shortlist is True
    assert ServiceSettings.from_env({"NMT_SHORTLIST": "false"}).shortlist is False
    loaded: list[bool] = []
    real = __import__("nmt.translator", fromlist=["load_translator"]).load_translator

    def recording(*args: object, shortlist: bool = True, **kwargs: object) -> object:
        loaded.append(shortlist)
        return real(*args, shortlist=shortlist, **kwargs)

    monkeypatch.setattr("nmt.translator.load_translator", recording)
    argv = ["translate", "--checkpoint", str(run_dir / "best"), "--device", "cpu"]
    for extra in ([], ["--no-shortlist"]):
        monkeypatch.setattr("sys.stdin", io.StringIO("I see the cat.\n"))
        assert main([*argv, *extra]) == 0
    assert loaded == [True, False]
    outputs = capsys.readouterr().out.splitlines()
    assert len(outputs) == 2 and all(outputs)


def test_auto_quantization_resolves_by_device_and_engine(
    run_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    from nmt.errors import NmtError
    from nmt.model.quantize import int8_available, resolve_quantization
    from nmt.translator import load_translator

    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert resolve_quantization("none", cpu) == "none"
    assert resolve_quantization("int8", cpu) == "int8"
    assert resolve_quantization("auto", cuda) == "none"
    with pytest.raises(NmtError, match="unknown quantization 'int4'"):
        resolve_quantization("int4", cpu)
    translator = load_translator(run_dir / "best", "cpu", "auto")
    assert translator.description.quantize == ("int8" if int8_available() else "none")
    monkeypatch.setattr("nmt.model.quantize.int8_available", lambda: False)
    assert resolve_quantization("auto", cpu) == "none"
    monkeypatch.setattr("nmt.model.quantize.int8_available", lambda: True)
    assert resolve_quantization("auto", cpu) == "int8"
