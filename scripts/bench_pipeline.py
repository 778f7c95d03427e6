"""Time and peak memory per stage of the distilled two-stage pipeline with real-size random weights.

Writes a single-file checkpoint of the released LTX-2 / LTX-2.3 configuration (`--layers` transformer blocks,
random weights stored in the pipeline dtype, bf16 unless `--dtype fp32`; the text projection and connectors are left
out because the prompt is given as precomputed random contexts of the right widths, so neither Gemma nor the text
path runs) and the x2 latent upsampler, then
runs `DistilledPipeline` (8 + 3 steps) and prints, per stage: wall time (and, per denoising step, the achieved
TFLOP/s from flop_budget.py's count), its share of the total, peak memory
(CUDA: torch.cuda.max_memory_allocated; CPU and Apple MPS: peak RSS, reset per stage through /proc/self/clear_refs
where Linux offers it, else the process peak) and that peak relative to the weights held during the stage.
With `--runs 2` (the default on an accelerator) the same call runs again with every model kept from the first run
(`pipeline.keep_models`): the cold run includes building the models, the warm one is the steady state of a pipeline
reused for many prompts. `--offload`, `--quantization` (fp8-scaled-mm on a pre-quantized copy) and `--compile` pick
the transformer runtime. The first run also counts the host-device synchronisations of each denoising step (CUDA's
sync debug mode on CUDA, the Python-level blocking calls elsewhere), and every run ends with one `headline:` line:
total time, seconds and achieved TFLOP/s per step, the whole run's TFLOP/s (flop_budget.py's count of every model),
peak memory and host syncs per step (scripts/gpu_check.sh runs this first, as its `headline` step).

    uv run python scripts/bench_pipeline.py                          # GPU: 768x512x121, 48 layers
    uv run python scripts/bench_pipeline.py --quantization fp8-scaled-mm --compile
    uv run python scripts/bench_pipeline.py --device cpu             # CPU: 192x128x9, 1 layer (a few minutes)
    uv run python scripts/bench_pipeline.py --workdir /data/bench    # keep (and reuse) the written files

Weights are random, so the numbers depend only on shapes. The checkpoint was just written, so loading reads it
mostly from the OS page cache (a cold read of a real file is slower).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import resource
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

GIB = 1024**3
FULL_SIZE = (512, 768, 121)  # height, width, frames
CPU_SIZE = (128, 192, 9)
STAGE_STEPS = (8, 3)  # the distilled recipe's denoising steps per stage
H100_TARGET_SECONDS = 7.5  # issue 10: the whole distilled run at 768x512x121 in bf16, text encoder excluded


# --- memory probes ----------------------------------------------------------------------------------------------


class Memory:
    """Peak memory since the last `reset()`: accelerator bytes on CUDA, resident set on the CPU."""

    def __init__(self, device: torch.device) -> None:
        self.cuda = device.type == "cuda"
        self.device = device

    def sync(self) -> None:
        if self.cuda:
            torch.cuda.synchronize(self.device)
        elif self.device.type == "mps":
            torch.mps.synchronize()

    def reset(self) -> None:
        if self.cuda:
            torch.cuda.reset_peak_memory_stats(self.device)
            return
        with contextlib.suppress(OSError), open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM to the current RSS (Linux)

    def peak(self) -> int:
        if self.cuda:
            return torch.cuda.max_memory_allocated(self.device)
        return _status_kib("VmHWM") * 1024

    def now(self) -> int:
        if self.cuda:
            return torch.cuda.memory_allocated(self.device)
        return _status_kib("VmRSS") * 1024

    @property
    def label(self) -> str:
        return "peak GPU alloc" if self.cuda else "peak RSS"


class HostSyncs:
    """Host-device synchronisations while `counting()`: CUDA's own detector on CUDA (every blocking call:
    bench_transformer.cuda_sync_warnings), elsewhere the Python-level calls that would block on an accelerator
    (`ltx_core.testing.host_syncs`). The benchmark's own synchronisations run `paused()`."""

    def __init__(self, device: torch.device) -> None:
        self.cuda = device.type == "cuda"
        self._count: Any = None

    @contextlib.contextmanager
    def counting(self) -> Iterator[HostSyncs]:
        if self.cuda:
            from bench_transformer import cuda_sync_warnings, sync_count

            with cuda_sync_warnings() as caught:
                self._count = lambda: sync_count(caught)
                yield self
        else:
            from ltx_core.testing.host_syncs import count_host_syncs

            with count_host_syncs() as seen:
                self._count = lambda: seen.total
                yield self
        self._count = None

    def count(self) -> int | None:
        """Syncs so far, or None when not counting."""
        return None if self._count is None else self._count()

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        if not (self.cuda and self._count is not None):
            yield
            return
        torch.cuda.set_sync_debug_mode("default")
        try:
            yield
        finally:
            torch.cuda.set_sync_debug_mode("warn")


def _status_kib(field: str) -> int:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # no per-stage reset possible without /proc
    return peak // 1024 if sys.platform == "darwin" else peak  # bytes on macOS, KiB on Linux


# --- the timeline ------------------------------------------------------------------------------------------------


@dataclass
class Row:
    name: str
    seconds: float
    peak: int
    weights: int = 0  # bytes of the weights this stage builds or uses (for the peak / weights ratio)
    note: str = ""


class Timeline:
    """Cuts the run into rows at the pipeline's progress / record events; each row gets its wall time and peak."""

    def __init__(self, memory: Memory, syncs: HostSyncs | None = None) -> None:
        self.memory = memory
        self.syncs = syncs or HostSyncs(torch.device("cpu"))
        self.rows: list[Row] = []
        self.steps: dict[str, list[float]] = {}
        self.step_syncs: dict[str, list[int]] = {}  # the sync count at each step event, when counting
        self._last = time.perf_counter()
        self._seen: set[str] = set()
        self.base = 0  # memory in use when the run started

    def start(self) -> None:
        with self.syncs.paused():
            self.memory.sync()
        self.memory.reset()
        self._last = time.perf_counter()

    def cut(self, name: str, weights: int = 0, note: str = "") -> None:
        """Close the row running since the previous cut."""
        with self.syncs.paused():
            self.memory.sync()
        now = time.perf_counter()
        self.rows.append(Row(name, now - self._last, self.memory.peak(), weights, note))
        self.memory.reset()
        self._last = now

    def progress(self, phase: str, done: int, total: int) -> None:
        if phase in ("stage 1", "stage 2"):
            with self.syncs.paused():
                self.memory.sync()
            self.steps.setdefault(phase, []).append(time.perf_counter())
            count = self.syncs.count()
            if count is not None:
                self.step_syncs.setdefault(phase, []).append(count)
        elif done == 0:
            self.cut(_BEFORE.get(phase, f"before {phase}"))
        else:
            self.cut(phase)

    def record(self, name: str, tensor: torch.Tensor) -> None:
        """The first tensor a stage records is its noised state, right after the transformer is built."""
        if name.startswith("stage1_") and "stage1" not in self._seen:
            self._seen.add("stage1")
            self.cut("stage 1: build transformer")


# The row closed when a counted phase starts (what ran since the previous event).
_BEFORE = {
    "prompt": "setup",
    "upsample": "stage 1: 8 steps",
    "decode audio": "stage 2: 3 steps + free transformer",
}


# --- inputs --------------------------------------------------------------------------------------------------------


def context_widths(transformer: dict[str, Any]) -> tuple[int, int]:
    """Widths of the connector outputs (spec A.9.1): what PromptContexts carry into the transformer."""
    heads = int(transformer.get("connector_num_attention_heads", 30))
    dim = int(transformer.get("connector_attention_head_dim", 128))
    audio_heads = int(transformer.get("audio_connector_num_attention_heads", heads))
    audio_dim = int(transformer.get("audio_connector_attention_head_dim", dim))
    return heads * dim, audio_heads * audio_dim


def random_contexts(transformer: dict[str, Any], device: torch.device, dtype: torch.dtype, seed: int) -> Any:
    from ltx_core.testing.real_configs import TEXT_SEQUENCE_LENGTH
    from ltx_core.text_encoders.gemma import PromptContexts

    video_width, audio_width = context_widths(transformer)
    gen = torch.Generator().manual_seed(seed)
    n = TEXT_SEQUENCE_LENGTH
    video = torch.randn(1, n, video_width, generator=gen).to(device=device, dtype=dtype)
    audio = torch.randn(1, n, audio_width, generator=gen).to(device=device, dtype=dtype)
    return PromptContexts(video, audio, torch.ones(1, n, dtype=torch.int64, device=device), "random contexts")


DTYPES = {"bf16": torch.bfloat16, "fp32": torch.float32}


def file_paths(workdir: Path, version: str, layers: int, dtype: str) -> tuple[Path, Path]:
    """Where the checkpoint and upsampler for this config live; the stored dtype is part of the name, so a workdir
    can hold both (bf16 files keep their plain names)."""
    tag = "" if dtype == "bf16" else f"_{dtype}"
    return (
        workdir / f"{version}_{layers}layers{tag}.safetensors",
        workdir / f"{version}_spatial_upsampler_x2{tag}.safetensors",
    )


def write_files(
    workdir: Path, version: str, layers: int, device: torch.device, quantization: str = "none", dtype: str = "bf16"
) -> tuple[Path, Path, float]:
    """The checkpoint and upsampler stored in `dtype` (reused when the workdir already holds them for this config);
    write seconds. The pipelines run the transformer in its stored dtype (as official), so the weights are written
    in the pipeline dtype. For fp8-scaled-mm the returned checkpoint is a pre-quantized copy of the bf16 one."""
    from ltx_core.testing.real_configs import (
        checkpoint_tensor_specs,
        real_config,
        real_metadata,
        real_upsampler_config,
        write_random_safetensors,
        write_random_upsampler,
    )

    config = real_config(version, num_layers=layers)
    ckpt, upsampler = file_paths(workdir, version, layers, dtype)
    stored = DTYPES[dtype]
    gen_device = device if device.type == "cuda" else torch.device("cpu")
    start = time.perf_counter()
    if not _has_config(ckpt, config):
        print(f"writing {ckpt} (random {dtype} weights, {layers} transformer blocks)...", flush=True)
        specs = {k: v for k, v in checkpoint_tensor_specs(config).items() if not _is_text_path(k)}
        write_random_safetensors(ckpt, specs, real_metadata(version, config), dtype=stored, device=gen_device)
    if not upsampler.is_file():
        write_random_upsampler(upsampler, real_upsampler_config(version), dtype=stored, device=gen_device)
    if quantization == "fp8-scaled-mm":
        from ltx_core.testing.fp8_checkpoints import write_scaled_fp8_checkpoint

        scaled = ckpt.with_name(ckpt.stem + "-fp8.safetensors")
        if not _has_config(scaled, config):
            print(f"writing {scaled} (block Linears pre-quantized to fp8)...", flush=True)
            write_scaled_fp8_checkpoint(ckpt, scaled)
        ckpt = scaled
    return ckpt, upsampler, time.perf_counter() - start


def _is_text_path(key: str) -> bool:
    return key.startswith(
        (
            "text_embedding_projection.",
            "model.diffusion_model.video_embeddings_connector.",
            "model.diffusion_model.audio_embeddings_connector.",
        )
    )


def _has_config(path: Path, config: dict[str, Any]) -> bool:
    if not path.is_file():
        return False
    from ltx_core.loader import open_checkpoint

    try:
        return open_checkpoint(path).config == json.loads(json.dumps(config))
    except Exception:
        return False


# --- run -----------------------------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> None:
    from ltx_core.testing.real_configs import component_bytes, real_config
    from ltx_pipelines.distilled import DistilledPipeline
    from ltx_pipelines.utils.blocks import TransformerRuntime

    device = torch.device(args.device)
    dtype = DTYPES[args.dtype]
    memory = Memory(device)
    print(f"device: {_device_name(device)}; torch {torch.__version__}; threads {torch.get_num_threads()}")
    with _workdir(args.workdir) as workdir:
        ckpt, upsampler, write_s = write_files(
            workdir, args.version, args.layers, device, args.quantization, args.dtype
        )
        sizes = component_bytes(ckpt)
        upsampler_bytes = Path(upsampler).stat().st_size
        print(
            f"files ready in {write_s:.1f} s: checkpoint {sum(sizes.values()) / GIB:.2f} GiB, upsampler "
            f"{upsampler_bytes / GIB:.2f} GiB ({workdir})"
        )

        config = real_config(args.version, args.layers)
        contexts = random_contexts(config["transformer"], device, dtype, args.seed)
        args.step_tflop = step_tflop(config, args, contexts.video_context.shape[1])
        args.run_tflop = run_tflop(config, args)
        quantization = None if args.quantization == "none" else args.quantization
        runtime = TransformerRuntime(offload=args.offload, quantization=quantization, compile=args.compile)
        pipeline = DistilledPipeline(ckpt, None, upsampler, device=device, dtype=dtype, runtime=runtime)
        setup = f"offload {args.offload}, quantization {args.quantization}{', compiled' if args.compile else ''}"
        pipeline.keep_models = args.runs > 1  # later runs: the steady state of a pipeline reused for many prompts
        syncs: dict[str, float] = {}
        for index in range(args.runs):
            counter = HostSyncs(device) if index == 0 else None  # counted once: the detector costs a little
            timeline, outputs = run_once(pipeline, contexts, args, memory, counter)
            syncs = syncs or syncs_per_step(timeline)
            label = "cold: models built during the run" if index == 0 else "warm: models kept from the previous run"
            report(args, timeline, memory, sizes, upsampler_bytes, f"{setup}; run {index + 1}, {label}", outputs)
            print(headline(args, timeline, memory, index + 1, syncs))
        pipeline.keep_models = False


def step_tflop(config: dict[str, Any], args: argparse.Namespace, text_len: int) -> dict[str, float]:
    """TFLOP of one denoising step per stage (counted on meta, flop_budget.py), for the achieved-TFLOP/s column."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from flop_budget import transformer_step

    h, w, f, fps = args.height, args.width, args.num_frames, args.frame_rate
    return {
        "stage 1": transformer_step(config, h // 2, w // 2, f, fps, text_len),
        "stage 2": transformer_step(config, h, w, f, fps, text_len),
    }


def run_tflop(config: dict[str, Any], args: argparse.Namespace) -> float:
    """TFLOP of the whole run (text encoder excluded): the denoising steps of both stages and every other model once,
    as flop_budget.py counts them."""
    from flop_budget import decoding_rows

    h, w, f, fps = args.height, args.width, args.num_frames, args.frame_rate
    others = sum(row.tflop for row in decoding_rows(config, args.version, h, w, f, fps))
    steps = {"stage 1": STAGE_STEPS[0], "stage 2": STAGE_STEPS[1]}
    return others + sum(args.step_tflop[phase] * n for phase, n in steps.items())


def run_once(
    pipeline: Any, contexts: Any, args: argparse.Namespace, memory: Memory, syncs: HostSyncs | None = None
) -> tuple[Timeline, str]:
    """One pipeline call, cut into rows; with `syncs`, the host syncs of every denoising step are counted too."""
    timeline = Timeline(memory, syncs)
    gc.collect()
    timeline.base = memory.now()
    with syncs.counting() if syncs else contextlib.nullcontext():
        timeline.start()
        result = pipeline(
            contexts,
            seed=args.seed,
            height=args.height,
            width=args.width,
            num_frames=args.num_frames,
            frame_rate=args.frame_rate,
            record=timeline.record,
            progress=timeline.progress,
        )
    timeline.cut("decode video: build decoder")
    frames, finite = 0, True
    for chunk in result.video:
        frames += int(chunk.shape[0])
        finite = finite and bool(torch.isfinite(chunk).all())
        del chunk
    timeline.cut("decode video: run (untiled)")
    audio_finite = bool(torch.isfinite(result.audio.waveform).all())
    outputs = (
        f"outputs: {frames} frames ({'finite' if finite else 'NOT finite'}), audio {result.audio.waveform.shape[-1]} "
        f"samples at {result.audio.sampling_rate} Hz ({'finite' if audio_finite else 'NOT finite'})"
    )
    return timeline, outputs


def report(
    args: argparse.Namespace,
    timeline: Timeline,
    memory: Memory,
    sizes: dict[str, int],
    upsampler_bytes: int,
    setup: str,
    outputs: str,
) -> None:
    transformer = sizes.get("transformer", 0)
    held = {  # bytes of the models alive during each row (the transformer stays built from stage 1 to stage 2)
        "stage 1: build transformer": transformer,
        "stage 1: 8 steps": transformer,
        "upsample": transformer + upsampler_bytes + sizes.get("video statistics", 0),
        "stage 2: 3 steps + free transformer": transformer,
        "decode audio": sizes.get("audio decoder", 0) + sizes.get("vocoder", 0) + sizes.get("audio statistics", 0),
        "decode video: build decoder": sizes.get("video decoder", 0),
        "decode video: run (untiled)": sizes.get("video decoder", 0),
    }
    for row in timeline.rows:
        row.weights = held.get(row.name, 0)
    print_report(args, timeline, memory, timeline.base, sizes, setup)
    print(outputs)


def print_report(
    args: argparse.Namespace, timeline: Timeline, memory: Memory, base: int, sizes: dict[str, int], offload: str
) -> None:
    rows = shown_rows(timeline)
    total = sum(r.seconds for r in rows)
    transformer = sizes.get("transformer", 0)
    from ltx_core.geometry import video_latent_tokens
    from ltx_core.model.audio_vae.timing import audio_latent_frames_for_video

    video_tokens = video_latent_tokens(args.num_frames, args.height, args.width)
    audio_tokens = audio_latent_frames_for_video(args.num_frames, args.frame_rate)
    print()
    size = f"{args.width}x{args.height}x{args.num_frames} @ {args.frame_rate:g} fps"
    print(
        f"distilled pipeline, {args.version}, {args.layers} transformer blocks ({transformer / GIB:.2f} GiB), "
        f"{size}, {args.dtype}, {offload}"
    )
    print(f"tokens: stage 1 video {video_tokens // 4} / stage 2 video {video_tokens}, audio {audio_tokens}")
    head = f"{'stage':38s} {'seconds':>8s} {'share':>6s} {memory.label + ' GiB':>17s} {'above start':>11s}"
    head += f" {'held GiB':>8s} {'(peak-start)/held':>17s}"
    print(head)
    print("-" * len(head))
    for r in rows:
        above = r.peak - base
        ratio = f"{above / r.weights:17.2f}" if r.weights else ""
        held = f"{r.weights / GIB:8.2f}" if r.weights else f"{'':8s}"
        print(
            f"{r.name:38s} {r.seconds:8.2f} {r.seconds / total:6.1%} {r.peak / GIB:17.2f} {above / GIB:11.2f} {held} "
            f"{ratio}"
        )
        for phase in ("stage 1", "stage 2"):
            per = step_seconds(timeline, phase)
            if r.name.startswith(phase + ":") and "steps" in r.name and per is not None:
                tflop = getattr(args, "step_tflop", {}).get(phase)
                rate = f"  ({tflop:.3g} TFLOP a step: {tflop / per:.3g} TFLOP/s)" if tflop else ""
                syncs = syncs_per_step(timeline).get(phase)
                counted = f"; {syncs:g} host syncs a step" if syncs is not None else ""
                print(f"{'  per step (after the first)':38s} {per:8.2f}{rate}{counted}")
    print("-" * len(head))
    peak = max(r.peak for r in rows)
    print(f"{'total':38s} {total:8.2f} {1:6.1%} {peak / GIB:17.2f} {(peak - base) / GIB:11.2f}")
    steps = sum(r.seconds for r in rows if "steps" in r.name)
    decode = sum(r.seconds for r in rows if r.name.startswith("decode"))
    print(
        f"ratios: denoising {steps / total:.1%} of the time, decoding {decode / total:.1%}; peak / transformer "
        f"weights {peak / max(transformer, 1):.2f} (above the start: {(peak - base) / max(transformer, 1):.2f}); "
        f"memory at the start {base / GIB:.2f} GiB"
    )
    if memory.cuda and (args.height, args.width, args.num_frames) == FULL_SIZE and args.layers == 48:
        verdict = "met" if total <= H100_TARGET_SECONDS else "not met"
        print(f"H100 target (whole run <= {H100_TARGET_SECONDS} s, text encoder excluded): {verdict} ({total:.2f} s)")


def shown_rows(timeline: Timeline) -> list[Row]:
    return [r for r in timeline.rows if r.name != "setup" or r.seconds > 0.05]


def step_seconds(timeline: Timeline, phase: str) -> float | None:
    """Seconds per denoising step of a stage, between its first and last step events."""
    t = timeline.steps.get(phase, [])
    return (t[-1] - t[0]) / (len(t) - 1) if len(t) > 1 else None


def syncs_per_step(timeline: Timeline) -> dict[str, float]:
    """Host syncs per denoising step of each stage, over the same window as `step_seconds` (when counted)."""
    counts = timeline.step_syncs
    return {phase: (c[-1] - c[0]) / (len(c) - 1) for phase, c in counts.items() if len(c) > 1}


def headline(args: argparse.Namespace, timeline: Timeline, memory: Memory, run: int, syncs: dict[str, float]) -> str:
    """The run's headline numbers on one line (what gpu_check's first step is for)."""
    rows = shown_rows(timeline)
    total = sum(r.seconds for r in rows)
    parts = [f"{args.width}x{args.height}x{args.num_frames}, {args.layers} blocks", f"total {total:.2f} s"]
    for phase in ("stage 1", "stage 2"):
        per = step_seconds(timeline, phase)
        if per is not None:
            parts.append(f"{phase} {per:.3f} s/step ({args.step_tflop[phase] / per:.3g} TFLOP/s)")
    parts.append(f"whole run {args.run_tflop:.4g} TFLOP: {args.run_tflop / total:.3g} TFLOP/s")
    parts.append(f"{memory.label} {max(r.peak for r in rows) / GIB:.2f} GiB")
    if syncs:
        per_stage = ", ".join(f"{phase} {n:g}" for phase, n in sorted(syncs.items()))
        parts.append(f"host syncs per step: {per_stage} (counted in run 1)")
    else:
        parts.append("host syncs per step: not counted")
    return f"headline (run {run}): " + "; ".join(parts)


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    return str(device)


@contextlib.contextmanager
def _workdir(path: str | None) -> Iterator[Path]:
    if path:
        Path(path).mkdir(parents=True, exist_ok=True)
        yield Path(path)
        return
    with tempfile.TemporaryDirectory(prefix="bench_pipeline_") as tmp:
        yield Path(tmp)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", choices=["cuda", "cpu", "mps"], default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--version", choices=["ltx2", "ltx23"], default="ltx23")
    ap.add_argument("--layers", type=int, help="transformer blocks (default 48 on an accelerator, 1 on CPU)")
    ap.add_argument("--height", type=int, help=f"default {FULL_SIZE[0]} (CPU: {CPU_SIZE[0]})")
    ap.add_argument("--width", type=int, help=f"default {FULL_SIZE[1]} (CPU: {CPU_SIZE[1]})")
    ap.add_argument("--num-frames", type=int, help=f"default {FULL_SIZE[2]} (CPU: {CPU_SIZE[2]})")
    ap.add_argument("--frame-rate", type=float, default=24.0)
    ap.add_argument(
        "--offload",
        choices=["none", "cpu", "disk", "auto"],
        default="none",
        help="where the transformer blocks live while it runs (default: resident)",
    )
    ap.add_argument(
        "--dtype",
        choices=list(DTYPES),
        default="bf16",
        help="pipeline dtype; the random weights are written in it too (the transformer computes in its stored dtype)",
    )
    ap.add_argument(
        "--quantization",
        choices=["none", "fp8-cast", "fp8-scaled-mm"],
        default="none",
        help="transformer quantization (fp8-scaled-mm runs a pre-quantized copy of the checkpoint)",
    )
    ap.add_argument("--compile", action="store_true", help="torch.compile the transformer blocks")
    ap.add_argument(
        "--runs",
        type=int,
        default=None,
        help="runs of the same call; after the first every model is kept (default 2 on an accelerator, 1 on CPU)",
    )
    ap.add_argument("--workdir", help="keep the written files here (and reuse them on the next run)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if args.dtype != "bf16" and args.quantization != "none":
        ap.error(f"--quantization {args.quantization} quantizes bf16 weights; use it with --dtype bf16")
    cpu = args.device == "cpu"
    reduced = []
    for name, full, small in zip(("height", "width", "num_frames"), FULL_SIZE, CPU_SIZE, strict=True):
        if getattr(args, name) is None:
            setattr(args, name, small if cpu else full)
            reduced.append(name)
    if args.layers is None:
        args.layers = 1 if cpu else 48
        reduced.append("layers")
    if args.runs is None:
        args.runs = 1 if cpu else 2
    if cpu and reduced:
        print(
            f"CPU run: reduced defaults for {', '.join(reduced)} ({args.width}x{args.height}x{args.num_frames}, "
            f"{args.layers} block(s)); the real size is 768x512x121 with 48 blocks on a GPU"
        )
    return args


def main(argv: list[str] | None = None) -> None:
    run(parse_args(argv if argv is not None else sys.argv[1:]))


if __name__ == "__main__":
    main()
