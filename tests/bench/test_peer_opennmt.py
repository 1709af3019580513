"""bench/peer_opennmt.py and its helpers, without OpenNMT-py: options, the peer's data pack,
the batch calibration, the log parsing, the process control and the JSON assembly."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import sentencepiece

from nmt.data.batching import batch_indices, collate
from nmt.data.dataset import load_token_ids

from .scripts import bench_modules

BENCH = Path(__file__).resolve().parents[2] / "bench"
MODULES = ("peer_opennmt", "peer_data", "peer_env", "peer_train")

# Report lines as OpenNMT-py 3.5.1 writes them with report_every 1 (a CPU smoke run).
PEER_LOG = textwrap.dedent("""\
    [2026-11-30 05:40:01,123 INFO] * number of parameters: 27542016
    [2026-11-30 05:40:01,123 INFO]  * src vocab size = 4312
    [2026-11-30 05:40:01,123 INFO]  * tgt vocab size = 5664
    [2026-11-30 05:40:02,000 INFO] Start training loop without validation...
    [2026-11-30 05:40:31,512 INFO] Step 1/    3; acc: 0.0; ppl: 8024.1; xent: 9.0; lr: 0.00100; sents:      60; bsz:  401/ 498/60;  12/ 15 tok/s;     33 sec;
    [2026-11-30 05:40:33,100 INFO] Step 2/    3; acc: 2.1; ppl: 7950.3; xent: 9.0; lr: 0.00100; sents:      58; bsz:  410/ 500/58; 205/250 tok/s;     35 sec;
    [2026-11-30 05:40:35,200 INFO] Step 3/    3; acc: 3.5; ppl: 7700.8; xent: 8.9; lr: 0.00100; sents:      61; bsz:  390/ 510/61; 195/255 tok/s;     37 sec;
    """)  # noqa: E501


@pytest.fixture(scope="module")
def bench() -> Iterator[dict[str, ModuleType]]:
    """The four modules, imported the way the script imports them (bench/ on the path)."""
    with bench_modules(*MODULES) as modules:
        yield modules


# --- options -------------------------------------------------------------------------


def test_defaults_and_smoke(bench) -> None:
    parse = bench["peer_opennmt"].parse_args
    args = parse([])
    assert (args.warmup, args.steps, args.seconds, args.max_tokens) == (20, 100, None, None)
    assert args.config == "lstm" and args.bucket_size is None
    smoke = parse(["--smoke", "--steps", "500"])
    assert (smoke.warmup, smoke.steps, smoke.seconds) == (1, 2, None)
    assert (smoke.max_tokens, smoke.bucket_size) == (1024, 4096)
    assert parse(["--smoke", "--max-tokens", "2048"]).max_tokens == 2048
    assert parse(["--seconds", "90"]).seconds == 90.0


@pytest.mark.parametrize(
    "argv",
    [["--steps", "0"], ["--steps", "5", "--seconds", "3"], ["--warmup", "-1"],
     ["--seconds", "soon"], ["--threads", "0"]],
)  # fmt: skip
def test_bad_options_exit_2(bench, argv: list[str], capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        bench["peer_opennmt"].parse_args(argv)
    assert exit_info.value.code == 2
    assert "error" in capsys.readouterr().err


def test_missing_data_exits_1_before_any_install(bench, tmp_path: Path, capsys) -> None:
    payload = tmp_path / "payload"
    argv = ["--data", str(tmp_path / "nothing"), "--payload", str(payload)]
    assert bench["peer_opennmt"].main(argv) == 1
    assert "nmt data prepare" in capsys.readouterr().err
    assert not payload.exists()


def test_ours_is_train_throughput_on_the_cpu(bench) -> None:
    module = bench["peer_opennmt"]
    command = module.ours_command(module.parse_args(["--steps", "7", "--max-tokens", "4096"]))
    assert command[1].endswith("bench/train_throughput.py")
    joined = " ".join(command)
    assert "--device cpu" in joined and "--warmup 20 --steps 7" in joined
    assert "--set data.max_tokens=4096" in joined and "--config lstm" in joined
    timed = module.ours_command(module.parse_args(["--seconds", "30"]))
    assert "--seconds 30.0" in " ".join(timed) and "--steps" not in timed
    bf16 = module.ours_command(module.parse_args(["--set", "train.cpu_amp=true"]))
    assert bf16[-2:] == ["--set", "train.cpu_amp=true"]


def test_payload_must_be_ignored(bench, tmp_path: Path) -> None:
    module = bench["peer_opennmt"]
    assert module.payload_is_ignored(module.REPO / ".peer")
    assert not module.payload_is_ignored(module.REPO / "bench")
    assert module.payload_is_ignored(tmp_path)  # outside the repository


# --- the peer's data -------------------------------------------------------------------


def test_pack_is_our_pieces_one_sentence_per_line(bench, prepared_dir: Path, tmp_path) -> None:
    data = bench["peer_data"].build_peer_data(prepared_dir, tmp_path)
    ids = load_token_ids(prepared_dir, "train")
    pieces = sentencepiece.SentencePieceProcessor(model_file=str(prepared_dir / "spm.model"))
    sources = data.train_src.read_text(encoding="utf-8").splitlines()
    targets = data.train_tgt.read_text(encoding="utf-8").splitlines()
    assert len(sources) == len(targets) == len(ids)
    for i in (0, len(ids) // 2, len(ids) - 1):
        src = [pieces.piece_to_id(p) for p in sources[i].split(" ")]
        assert src + [pieces.eos_id()] == ids.source(i).tolist()  # the peer gets no eos
        assert [pieces.piece_to_id(p) for p in targets[i].split(" ")] == ids.target(i).tolist()
    for name in ("valid.sp.en", "valid.sp.fr", "test.sp.en", "test.en", "spm.model"):
        assert (data.folder / name).is_file()


def test_pack_is_reused_only_when_complete(bench, prepared_dir: Path, tmp_path: Path) -> None:
    build = bench["peer_data"].build_peer_data
    data = build(prepared_dir, tmp_path)
    data.train_src.write_text("marker\n", encoding="utf-8")
    assert build(prepared_dir, tmp_path).train_src.read_text(encoding="utf-8") == "marker\n"
    (data.folder / bench["peer_data"].DONE).unlink()
    assert build(prepared_dir, tmp_path).train_src.read_text(encoding="utf-8") != "marker\n"


# --- one batch in real tokens ------------------------------------------------------------


def test_our_real_tokens_match_the_collated_batches(bench, prepared_dir: Path) -> None:
    ids = load_token_ids(prepared_dir, "train")
    mean = bench["peer_data"].our_real_tokens_per_batch(ids, 300, 100)
    plan = batch_indices(ids.src_lengths, ids.tgt_lengths, 300, True, 7, 3, 100)
    batches = [collate(ids, indices, 0, 2, 3) for indices in plan]
    real = [b.n_src_tokens - len(b) + b.n_tgt_tokens for b in batches]  # our source eos out
    assert mean == pytest.approx(sum(real) / len(real))


def test_peer_batches_follow_its_rule(bench) -> None:
    batches = bench["peer_data"].peer_batches
    src = np.array([3, 3, 5, 2, 2])
    tgt = np.array([4, 1, 6, 2, 2])
    # sorted by (src, tgt): 3, 4 (2,2), 1 (3,1), 0 (3,4), 2 (5,6); widths max(s, t + 2)
    assert batches(src, tgt, ["a", "b", "c", "d", "e"], 12) == [[3, 4, 1], [0], [2]]
    # 4 has the same source text as 3: dropped from 3's batch, which 0 then overflows
    assert batches(src, tgt, ["a", "b", "c", "d", "d"], 12) == [[3, 1], [0], [2]]
    # exactly on budget closes the batch; over it, the last sentence opens the next
    assert batches(src, tgt, list("abcde"), 8) == [[3, 4], [1], [0], [2]]
    assert batches(src, tgt, list("abcde"), 3) == [[3], [4], [1], [0], [2]]


def test_calibration_lands_near_our_batch(bench, prepared_dir: Path) -> None:
    module = bench["peer_data"]
    ids = load_token_ids(prepared_dir, "train")
    target = module.our_real_tokens_per_batch(ids, 400, 100)
    size, simulated = module.calibrate_peer_batch(ids, target, start=4096)
    assert size < 4096  # moved towards the small target
    assert simulated == pytest.approx(target, rel=0.1)
    src, tgt = ids.src_lengths - 1, ids.tgt_lengths
    keys = [ids.source(i).tobytes() for i in range(len(ids))]
    assert module.peer_real_tokens_per_batch(src, tgt, keys, size) == simulated


# --- the peer's logs and process -------------------------------------------------------


def test_report_lines_parse_and_others_do_not(bench) -> None:
    train = bench["peer_train"]
    reports = [r for r in map(train.parse_step, PEER_LOG.splitlines()) if r is not None]
    assert [r.step for r in reports] == [1, 2, 3]
    assert (reports[1].src_tokens, reports[1].tgt_tokens, reports[1].sentences) == (410, 500, 58)
    assert reports[1].seconds == pytest.approx(910 / 455)
    assert train.parse_parameters(PEER_LOG) == 27542016
    assert train.parse_vocab_sizes(PEER_LOG) == {"src": 4312, "tgt": 5664}
    assert train.parse_step("Start training loop without validation...") is None


def test_steady_state_leaves_the_warmup_out(bench) -> None:
    train = bench["peer_train"]
    reports = [r for r in map(train.parse_step, PEER_LOG.splitlines()) if r is not None]
    assert reports[2].logged_at - reports[0].logged_at == pytest.approx(3.688)
    figures = train.steady_state(reports, warmup=1)
    seconds = 35.200 - 31.512  # the time stamps of steps 3 and 1
    assert figures["steps"] == 2 and figures["first_timed_step"] == 2
    assert figures["seconds"] == pytest.approx(seconds, abs=1e-3)
    assert figures["seconds_from_rates"] == pytest.approx(910 / 455 + 900 / 450, abs=1e-3)
    assert figures["tokens_per_second"] == pytest.approx(1810 / seconds, abs=0.1)
    assert figures["src_tokens_per_second"] == pytest.approx(800 / seconds, abs=0.1)
    assert figures["real_tokens_per_batch"] == 905.0
    assert figures["warmup_seconds"] == pytest.approx(899 / 27, abs=1e-3)


def test_steady_state_without_time_stamps_sums_the_rates(bench) -> None:
    train = bench["peer_train"]
    lines = [line.split("] ", 1)[1] for line in PEER_LOG.splitlines() if "Step" in line]
    reports = [train.parse_step(line) for line in lines]
    assert all(r is not None and r.logged_at is None for r in reports)
    figures = train.steady_state(reports, warmup=1)
    assert figures["seconds"] == pytest.approx(4.0, abs=1e-3)
    assert figures["tokens_per_second"] == pytest.approx(1810 / 4.0, abs=0.1)


def test_train_config_is_the_recipes_shape(bench, tmp_path: Path) -> None:
    train = bench["peer_train"]
    vocab = (tmp_path / "v.src", tmp_path / "v.tgt")
    config = train.train_config(
        tmp_path / "a", tmp_path / "b", vocab, tmp_path, {"batch_size": 3000, "train_steps": 9}
    )
    expected = {"encoder_type": "brnn", "rnn_type": "LSTM", "layers": 2, "hidden_size": 512,
                "word_vec_size": 512, "global_attention": "mlp", "input_feed": 1,
                "dropout": [0.3], "optim": "adam", "learning_rate": 0.001,
                "label_smoothing": 0.1, "batch_type": "tokens", "batch_size": 3000,
                "train_steps": 9, "report_every": 1, "model_dtype": "fp32"}  # fmt: skip
    assert {key: config[key] for key in expected} == expected
    assert "valid" not in config["data"] and "gpu_ranks" not in config
    written = train.write_config(config, tmp_path / "run" / "config.yaml")
    assert "global_attention: mlp" in written.read_text(encoding="utf-8")


_FAKE_TRAINER = """
import subprocess, sys, time
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])  # a worker
print("* number of parameters: 12", flush=True)
for step in range(1, 200):
    print(f"Step {step}/  200; acc: 1.0; bsz: 100/ 120/10; 1000/1200 tok/s;  1 sec;", flush=True)
    time.sleep(0.02)
"""


def test_streaming_stops_the_whole_group_at_the_target(bench, tmp_path: Path) -> None:
    train = bench["peer_train"]
    command = [sys.executable, "-c", _FAKE_TRAINER]
    run = train.stream_training(
        command, {}, tmp_path / "log.txt", train.Stop(warmup=2, steps=3), lambda _: None
    )
    assert run.ended == "target reached" and run.returncode < 0
    assert [r.step for r in run.reports] == [1, 2, 3, 4, 5]
    assert run.wall_seconds_timed is not None and run.wall_seconds_timed > 0
    assert "number of parameters" in (tmp_path / "log.txt").read_text(encoding="utf-8")


def test_streaming_stops_after_the_timed_seconds(bench, tmp_path: Path) -> None:
    train = bench["peer_train"]
    command = [sys.executable, "-c", _FAKE_TRAINER]
    stop = train.Stop(warmup=2, seconds=0.2)
    run = train.stream_training(command, {}, tmp_path / "log.txt", stop, lambda _: None)
    assert run.ended == "target reached"
    assert run.wall_seconds_timed >= 0.2 and 3 < len(run.reports) < 199


def test_streaming_gives_up_at_the_timeout(bench, tmp_path: Path) -> None:
    train = bench["peer_train"]
    silent = [sys.executable, "-c", "import time; time.sleep(60)"]
    stop = train.Stop(warmup=1, steps=1, timeout=0.5)
    run = train.stream_training(silent, {}, tmp_path / "log.txt", stop, lambda _: None)
    assert run.ended == "timeout" and run.reports == [] and run.wall_seconds_timed is None


def test_peer_env_without_a_venv(bench, tmp_path: Path) -> None:
    env_module = bench["peer_env"]
    env = env_module.PeerEnv(tmp_path / "venv", tmp_path / "stubs", threads=2)
    variables = env.variables()
    assert variables["PYTHONPATH"] == str(tmp_path / "stubs")
    assert variables["TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"] == "1"
    assert variables["OMP_NUM_THREADS"] == variables["MKL_NUM_THREADS"] == "2"
    assert env.shell_prefix().endswith(str(tmp_path / "venv" / "bin" / "python"))
    install = env_module.install_commands(env)[1]
    assert "--no-deps" in install and "OpenNMT-py==3.5.1" in install
    with pytest.raises(env_module.PeerError, match="no peer interpreter"):
        env_module.probe(env)


# --- the JSON ----------------------------------------------------------------------------

OURS = {  # bench/train_throughput.py's output, the fields used
    "steps": 10, "seconds": 20.0, "tokens_per_second": 4000.0, "src_tokens_per_second": 1900.0,
    "tgt_tokens_per_second": 2100.0, "sentences_per_batch": 300.0, "warmup_steps": 2,
    "warmup_seconds": 5.0, "parameters": 30_000_000, "threads": 2, "torch": "2.13.0+cpu",
}  # fmt: skip


def test_our_figures_leave_the_source_eos_out(bench) -> None:
    figures = bench["peer_opennmt"].our_figures(OURS)
    # 300 sentences per step, 10 steps in 20 s: 150 source eos per second
    assert figures["src_tokens_per_second"] == 1750.0
    assert figures["tokens_per_second"] == 3850.0
    assert figures["tokens_per_second_as_reported"] == 4000.0
    assert figures["real_tokens_per_batch"] == 8000.0 - 300.0


def test_assemble_gives_both_figures_and_the_ratios(bench) -> None:
    module = bench["peer_opennmt"]
    peer = {"tokens_per_second": 3500.0, "steps": 10, "seconds": 22.0}
    record = module.assemble(OURS, peer, {"cpu_model": "test"})
    assert record["ours_tokens_per_second"] == 3850.0
    assert record["peer_tokens_per_second"] == 3500.0
    assert record["ratio"] == round(3850 / 3500, 3)
    assert record["ratio_as_reported"] == round(4000 / 3500, 3)
    assert record["cpu_model"] == "test" and record["peer"] is peer
    failed = module.assemble(OURS, {"error": "no onmt"}, {})
    assert failed["ratio"] is None and failed["peer_tokens_per_second"] is None
    assert module.assemble(None, peer, {})["ours"] is None
