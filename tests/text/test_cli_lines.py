"""`nmt translate` and `nmt evaluate --hyps`: one line in, one line out, no traceback.

The subprocess tests run the real `nmt` command on the real model (issue 10, findings 2
and 3); the evaluate tests use the suite's tiny prepared data.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from nmt.cli import main
from nmt.data.dataset import read_groups

REPO = Path(__file__).resolve().parents[2]


def _nmt(args: list[str], data: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "nmt", *args],
        input=data,
        capture_output=True,
        cwd=REPO,
        timeout=300,
        check=False,
    )


@pytest.mark.parametrize(
    "data",
    [b"Hello \xff\xfe world.\nGood night.\n", b"He is\rhere.\nGood night.\n"],
    ids=["invalid-utf8", "carriage-return"],
)
def test_stdin_and_file_give_the_same_lines(
    shipped_model_dir: Path, tmp_path: Path, data: bytes
) -> None:
    source = tmp_path / "in.txt"
    source.write_bytes(data)
    args = ["translate", "--checkpoint", str(shipped_model_dir), "--beam", "1", "--device", "cpu"]
    piped = _nmt(args, data)
    from_file = _nmt([*args, "--input", str(source), "--quiet"])
    for run in (piped, from_file):
        assert run.returncode == 0 and b"Traceback" not in run.stderr, run.stderr
        assert run.stdout.count(b"\n") == 2 and all(run.stdout.split(b"\n")[:2])
    assert piped.stdout == from_file.stdout


def test_a_missing_input_is_one_line_and_exit_1(shipped_model_dir: Path, tmp_path: Path) -> None:
    args = ["translate", "--checkpoint", str(shipped_model_dir), "--device", "cpu"]
    run = _nmt([*args, "--input", str(tmp_path / "nope.txt")])
    assert run.returncode == 1 and run.stdout == b""
    assert run.stderr.decode().count("\n") == 1 and "nope.txt" in run.stderr.decode()


def _hypothesis_file(tmp_path: Path, lines: list[bytes]) -> Path:
    path = tmp_path / "hyps.txt"
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    return path


def test_evaluate_scores_a_file_with_cr_and_odd_bytes_inside_lines(
    prepared_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    groups = read_groups(prepared_dir, "test")
    lines = [group.references[0].encode() for group in groups]
    lines[0] = lines[0][:3] + b"\r" + lines[0][3:]  # as sacrebleu reads it: one line
    lines[1] = lines[1] + " \u2028 \x85".encode() + b" \xff"
    report = tmp_path / "report.json"
    hyps = _hypothesis_file(tmp_path, lines)
    assert (
        main(
            ["evaluate", "--hyps", str(hyps), "--data", str(prepared_dir), "--report", str(report)]
        )
        == 0
    )
    result = json.loads(report.read_text())
    assert result["layout"] == "per_source" and result["sentences"] == len(groups)
    assert result["results"][0]["multi_reference"]["bleu"] > 50
    capsys.readouterr()


def test_evaluate_names_a_wrong_line_count(
    prepared_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hyps = _hypothesis_file(tmp_path, [b"one", b"two"])
    assert main(["evaluate", "--hyps", str(hyps), "--data", str(prepared_dir)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "has 2 lines" in err and "Traceback" not in err
