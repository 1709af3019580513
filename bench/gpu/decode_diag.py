#!/usr/bin/env python3
"""Where beam-search decoding time goes on a GPU (issue 14's second device call, 2026-11-30).

    python3 bench/gpu/decode_diag.py --bundle DIR --data DIR [--limit N] [--budget SECONDS]
        [--repeats N] [--graphs]

Writes OUT/diag.json (and profile_cpu.txt / profile_cuda.txt): sentences/s over the split's
test lines at batch 64 through the text boundary and the model path alone, greedy, float32
against bf16 autocast, batch 256 and 1024; `decode_step` alone on 64 sentences x 5 beams,
eager against one captured CUDA graph; and a torch.profiler count of kernel launches,
copies and host syncs per beam step. On a CPU the same runs without the graph section.
The searches are the eager ones it diagnosed (`beam_search`/`greedy_search`): on CUDA the
graph-replayed search (nmt.decoding.graphs) is turned off unless --graphs is given.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
import traceback
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Any

sys.path[:0] = [str(Path(__file__).resolve().parents[2]), str(Path(__file__).resolve().parents[1])]
import decode_speed  # noqa: E402
import torch  # noqa: E402
from torch.autograd import DeviceType  # noqa: E402
from torch.profiler import ProfilerActivity, profile  # noqa: E402

from nmt.data.dataset import read_split_text  # noqa: E402
from nmt.decoding import beam as beam_module  # noqa: E402
from nmt.decoding.graphs import set_cuda_graphs  # noqa: E402
from nmt.translator import NeuralTranslator, load_translator  # noqa: E402

PROFILED_OPS = (
    "cudaLaunchKernel",
    "cudaStreamSynchronize",
    "cudaMemcpyAsync",
    "aten::nonzero",
    "aten::item",
    "aten::_local_scalar_dense",
    "aten::index_select",
    "aten::cat",
    "aten::topk",
    "aten::copy_",
)


class Diagnosis:
    """The translator, the test sources, the results document and its sections."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.on_cuda = torch.cuda.is_available()
        self.device = "cuda" if self.on_cuda else "cpu"
        self.translator: NeuralTranslator = load_translator(
            args.bundle, device=self.device, shortlist=False
        )
        self.model = self.translator.model
        set_cuda_graphs(self.model, args.graphs)
        self.repeats = args.repeats
        self.sources = read_split_text(args.data, "test")[0][: args.limit or None]
        self.out, self.budget, self.started = args.out, args.budget, time.monotonic()
        base = decode_speed.search_options(self.translator.info)
        self.beam5 = dataclasses.replace(base, beam_size=5, n_best=1)
        self.greedy = dataclasses.replace(base, beam_size=1, n_best=1)
        self.steps = 0
        self.results: dict[str, Any] = {
            "device": decode_speed.device_name(self.device),
            "torch": torch.__version__,
            "lines": len(self.sources),
            "model_dtype": str(next(self.model.parameters()).dtype),
            "sections": {},
        }

    def save(self) -> None:
        self.results["wall"] = round(time.monotonic() - self.started, 1)
        (self.out / "diag.json").write_text(json.dumps(self.results, indent=1, default=str))

    def section(self, name: str, action: Callable[[], dict[str, Any]]) -> None:
        """Run one section within the budget; an error is recorded and the next one runs."""
        if time.monotonic() - self.started > self.budget:
            self.results["sections"][name] = "skipped: budget"
        else:
            try:
                self.results["sections"][name] = action()
            except Exception as error:
                self.results["sections"][name] = {
                    "error": repr(error),
                    "traceback": traceback.format_exc()[-2000:],
                }
        print(name, json.dumps(self.results["sections"][name], default=str)[:600], flush=True)
        self.save()

    def autocast(self, enabled: bool = True) -> Any:
        if self.on_cuda and enabled:
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return nullcontext()

    def counted_steps(self) -> Any:
        """Count decode_step calls while the block runs (an instance attribute shadows it)."""
        plain, diagnosis = self.model.decode_step, self

        class Counting:
            def __enter__(self) -> None:
                diagnosis.steps = 0

                def step(*args: Any, **kwargs: Any) -> Any:
                    diagnosis.steps += 1
                    return plain(*args, **kwargs)

                diagnosis.model.decode_step = step

            def __exit__(self, *exc: object) -> None:
                del diagnosis.model.decode_step

        return Counting()

    def timing(
        self, model_only: bool, beam5: bool, batch_size: int, bf16: bool = True
    ) -> Callable[[], dict[str, Any]]:
        def run() -> dict[str, Any]:
            translator = self.translator
            timed = decode_speed.ModelOnly(translator) if model_only else translator
            options = self.beam5 if beam5 else self.greedy
            translator.batch_size = batch_size
            try:
                with self.counted_steps(), self.autocast(bf16):
                    record = decode_speed.timed_translations(
                        timed, self.sources, options, batch_size
                    )[1]
            finally:
                translator.batch_size = 64
            return {
                "sent_per_s": round(record["sentences_per_second"], 1),
                "seconds": round(record["seconds"], 3),
                "decode_step_calls_incl_warmup": self.steps,
            }

        return run

    def sync(self) -> None:
        if self.on_cuda:
            torch.cuda.synchronize()

    def step_inputs(self, beams: int = 5, sentences: int = 64) -> tuple[Any, Any, Any]:
        """The first beam step's (prev tokens, state, memory) for mid-length test sentences."""
        texts = sorted(self.sources, key=len)
        middle = texts[len(texts) // 2 : len(texts) // 2 + sentences]
        encoded = [self.translator._encode_source(text) for text in middle]
        lengths = torch.tensor([len(ids) for ids in encoded])
        src = torch.full((len(encoded), int(lengths.max())), self.model.pad_id, dtype=torch.long)
        for row, ids in enumerate(encoded):
            src[row, : len(ids)] = torch.tensor(ids)
        out, state, memory = beam_module._first_step(
            self.model, src.to(self.device), lengths.to(self.device), beams, 2
        )
        return out.log_probs.argmax(-1), state, memory

    def per_step(self, action: Callable[[], Any]) -> float:
        """Milliseconds per call of action, the device synchronised around the loop."""
        self.sync()
        started = time.perf_counter()
        for _ in range(self.repeats):
            action()
        self.sync()
        return round((time.perf_counter() - started) / self.repeats * 1e3, 4)

    def decode_step_micro(self) -> dict[str, Any]:
        """decode_step eager against one captured CUDA graph of it; bookkeeping alone."""
        cast = (
            torch.autocast("cuda", dtype=torch.bfloat16, cache_enabled=False)
            if self.on_cuda
            else nullcontext()
        )
        with torch.no_grad(), cast:
            prev, state, memory = self.step_inputs()
            step = lambda: self.model.decode_step(prev, state, memory)  # noqa: E731
            found = {"rows": int(prev.numel()), "src_len": int(memory.mask.size(1))}
            for _ in range(5):
                step()
            found["eager_ms_per_step"] = self.per_step(step)
            if not self.on_cuda:
                return found
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                for _ in range(3):
                    step()
            torch.cuda.current_stream().wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                step()
            found["graph_ms_per_step"] = self.per_step(graph.replay)
            log_probs = torch.randn(prev.numel(), 8000, device=self.device).log_softmax(-1)
            total = torch.zeros(64, 5, device=self.device)

            def bookkeeping() -> None:
                candidates = beam_module._expand(total, log_probs)
                is_eos = candidates.tokens == 3
                candidates.take(is_eos.long().argsort(dim=1, stable=True)[:, :5])
                torch.cat([is_eos[:, :5], is_eos[:, :5]], 1).reshape(-1).nonzero()
                bool(is_eos.any())

            found["expand_select_sync_ms_per_step"] = self.per_step(bookkeeping)
            return found

    def profile_beam5(self) -> dict[str, Any]:
        """torch.profiler over 640 test sentences at beam 5, batch 64: op and launch counts."""
        activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if self.on_cuda else [])
        subset = sorted(self.sources, key=len)[::5][:640]
        model_only = decode_speed.ModelOnly(self.translator)
        with self.autocast():
            decode_speed.translate_all(model_only, subset[:16], self.beam5, 64)
        with self.counted_steps(), self.autocast(), profile(activities=activities) as profiler:
            decode_speed.translate_all(model_only, subset, self.beam5, 64)
            self.sync()
        averages = profiler.key_averages()
        table = averages.table(sort_by="self_cpu_time_total", row_limit=45)
        (self.out / "profile_cpu.txt").write_text(table)
        if self.on_cuda:
            table = averages.table(sort_by="self_cuda_time_total", row_limit=30)
            (self.out / "profile_cuda.txt").write_text(table)
        counts = {
            event.key: {
                "count": event.count,
                "self_cpu_ms": round(event.self_cpu_time_total / 1e3, 2),
            }
            for event in averages
            if event.key in PROFILED_OPS
        }
        # kernels only: an op's row repeats the device time of the kernels it launched
        kernels = [e for e in averages if e.device_type == DeviceType.CUDA]
        device_ms = sum(e.self_device_time_total for e in kernels) / 1e3
        return {
            "sentences": len(subset),
            "decode_steps": self.steps,
            "counts": counts,
            "self_cpu_ms_total": round(sum(e.self_cpu_time_total for e in averages) / 1e3, 1),
            "self_device_ms_total": round(device_ms, 1),
        }


def main(argv: list[str] | None = None) -> int:
    """Run every section within the budget; OUT/diag.json after each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, required=True)
    parser.add_argument("--data", type=Path, required=True, help="manifest.json and test.*")
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "OUT")))
    parser.add_argument("--limit", type=int, default=0, help="first N test lines (0: all)")
    parser.add_argument("--budget", type=float, default=170.0, help="no section starts after")
    parser.add_argument("--repeats", type=int, default=200, help="calls per micro-benchmark")
    parser.add_argument("--graphs", action="store_true", help="keep the CUDA graph search on")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    diagnosis = Diagnosis(args)
    for name, model_only, beam5, batch, bf16 in (
        ("text_b5_bs64", False, True, 64, True),
        ("model_b5_bs64", True, True, 64, True),
        ("model_b1_bs64", True, False, 64, True),
        ("model_b5_bs64_fp32", True, True, 64, False),
        ("model_b5_bs256", True, True, 256, True),
        ("model_b5_bs1024", True, True, 1024, True),
    ):
        diagnosis.section(name, diagnosis.timing(model_only, beam5, batch, bf16))
    diagnosis.section("decode_step_micro", diagnosis.decode_step_micro)
    diagnosis.section("profile_b5", diagnosis.profile_beam5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
