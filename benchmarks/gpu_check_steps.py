"""The steps of the GPU check (``benchmarks/gpu_check.py`` runs each in its own process).

    python benchmarks/gpu_check_steps.py STEP --out DIR --device cuda [--quick]

A step prints JSON lines on stdout, one fact each: ``{"check": NAME, "ok": BOOL, ...}`` for a
verdict, ``{"skip": REASON}`` when it cannot run here, anything else is a measurement. The runner
turns them into ``DIR/NN_STEP.json``. Progress and the commands' own stderr go to stderr (the log).
Files a step makes (bench's ``-o`` JSON, pytest's XML) go under ``DIR/raw/``.

The reference steps time the model with their own loop (CUDA events, and
``torch.utils.benchmark.Timer``), not with resnet_inspect's bench engine: they are the second
opinion on its numbers. ``--quick`` swaps resnet50 for a tiny ResNet at 32 x 32 and short times,
so that CI can run every step that makes sense on a CPU within seconds.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TINY = "resnet18:layers=1,1,1,1,widths=8,16,32,64"
CUDA_TESTS = ("tests/test_bench.py", "tests/test_bench_train.py", "tests/test_bench_stats.py")
# ours within this factor of timm's and torchvision's time: the block protocol must cost nothing
PEER_TOLERANCE = 1.05
# bench's median within this share of the hand loop's at the largest batch
AGREEMENT_TOLERANCE = 0.10
# kernels of these cuDNN / cuBLAS / CUTLASS families do convolutions (name fragments, lower case)
CONV_KERNELS = ("conv", "fprop", "dgrad", "wgrad", "implicit_gemm", "xmma", "cutlass", "sm90_")


@dataclass(frozen=True)
class Ctx:
    """Where a step runs and at what size."""

    device: str
    quick: bool
    out: Path

    @property
    def cuda(self) -> bool:
        return self.device.startswith("cuda")

    @property
    def raw(self) -> Path:
        path = self.out / "raw"
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def arch(self) -> str:
        return TINY if self.quick else "resnet50"

    @property
    def hw(self) -> int:
        return 32 if self.quick else 224

    def batches(self, *full: int) -> list[int]:
        """The batch sizes of the full run; 1, 2, 4.. for --quick."""
        return [2**i for i in range(len(full))] if self.quick else list(full)

    def timing(self) -> list[str]:
        if self.quick:
            return ["--warmup", "0.01", "--min-time", "0.05", "--threads", "1"]
        return ["--warmup", "0.5", "--min-time", "1"]


# --- output ------------------------------------------------------------------------------------
def fact(**record: Any) -> None:
    print(json.dumps(record, default=str), flush=True)


def check(name: str, ok: bool, **detail: Any) -> bool:
    fact(check=name, ok=bool(ok), **detail)
    return bool(ok)


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# --- running bench -----------------------------------------------------------------------------
@dataclass(frozen=True)
class BenchRun:
    rc: int
    data: dict[str, Any] | None
    stderr: str


def bench(ctx: Ctx, name: str, *args: str, arch: tuple[str, ...] = ()) -> BenchRun:
    """`resnet-inspect bench` on this step's model with ``args``, its JSON to raw/NAME.json."""
    path = ctx.raw / f"{name}.json"
    cmd = bench_command(ctx, path, *args, arch=arch)
    say("$ " + " ".join(cmd))
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    sys.stderr.write(done.stderr)
    data = json.loads(path.read_text()) if done.returncode == 0 and path.exists() else None
    return BenchRun(done.returncode, data, done.stderr)


def bench_command(ctx: Ctx, path: Path, *args: str, arch: tuple[str, ...] = ()) -> list[str]:
    shape = ["--input", f"3x{ctx.hw}x{ctx.hw}"] if ctx.quick else []
    return [sys.executable, "-m", "resnet_inspect", "bench", *(arch or (ctx.arch,)), "--device",
            ctx.device, *shape, *ctx.timing(), *args, "-f", "json", "-o", str(path)]  # fmt: skip


def rows_of(run: BenchRun) -> list[dict[str, Any]]:
    """The timing rows of a bench run, each cut to the numbers worth keeping here."""
    keep = ("variant", "batch", "status", "median_ms", "p90_ms", "time_per_batch_ms", "images_per_s",
            "tflops_per_s", "utilisation", "compile_s", "compiled", "noisy")  # fmt: skip
    results = (run.data or {}).get("results", [])
    return [{**{k: r.get(k) for k in keep if k in r},
             "allocated_bytes": (r.get("memory") or {}).get("allocated_bytes")} for r in results]


def bench_step(ctx: Ctx, name: str, *args: str) -> list[dict[str, Any]]:
    """A bench run that must exit 0 with every row measured; its rows as facts."""
    run = bench(ctx, name, *args)
    rows = rows_of(run)
    for row in rows:
        fact(**row)
    check("exit 0", run.rc == 0, rc=run.rc, stderr=run.stderr[-500:])
    check("every row ok", bool(rows) and all(r["status"] == "ok" for r in rows),
          statuses=[r["status"] for r in rows])
    return rows


def throughput_ms(ctx: Ctx, name: str) -> dict[int, float]:
    """By batch, the back-to-back ms per batch that an earlier step's bench run measured (what a
    hand loop of calls measures too); none if it did not run."""
    path = ctx.raw / f"{name}.json"
    rows = json.loads(path.read_text()).get("results", []) if path.exists() else []
    return {r["batch"]: r["time_per_batch_ms"] for r in rows if r["status"] == "ok"}


def _speedup(ctx: Ctx, rows: list[dict[str, Any]], baseline: str, label: str) -> None:
    """The speed-up of these rows over an earlier step's, batch by batch (throughput)."""
    before = throughput_ms(ctx, baseline)
    for r in rows:
        if r["status"] == "ok" and r["batch"] in before:
            fact(batch=r["batch"], **{f"speedup_{label}": before[r["batch"]] / r["time_per_batch_ms"]})


# --- 1. the environment ------------------------------------------------------------------------
PACKAGES = ("torch", "typer", "rich", "timm", "torchvision", "fvcore", "torchinfo", "pytest",
            "pytest-xdist")  # fmt: skip


def step_env(ctx: Ctx) -> None:
    import platform

    import torch

    from resnet_inspect.benchmark.peaks import identify_peak

    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    cudnn: Any = torch.backends.cudnn
    fact(python=platform.python_version(), torch=torch.__version__, cuda_built=torch.version.cuda,
         cudnn=cudnn.version() if cudnn.is_available() else None, packages=versions,
         cuda_available=torch.cuda.is_available(), device_count=torch.cuda.device_count())  # fmt: skip
    fact(nvidia_smi=_nvidia_smi())
    if not ctx.cuda:
        return
    if not check("CUDA available", torch.cuda.is_available()):
        return
    props: Any = torch.cuda.get_device_properties(torch.device(ctx.device))
    peak = identify_peak(str(props.name), int(props.multi_processor_count))
    fact(device_name=props.name, capability=f"{props.major}.{props.minor}",
         sm_count=props.multi_processor_count, memory_gib=round(props.total_memory / 2**30, 1),
         dense_peak=None if peak is None else {"part": peak.part, "tflops": dict(peak.tflops),
                                                "bandwidth_gb_s": peak.bandwidth_gb_s})  # fmt: skip
    check("dense peak known", peak is not None, why="utilisation needs the part's peak")


def _nvidia_smi() -> str | None:
    query = "name,driver_version,memory.total,clocks.max.sm,power.limit"
    try:
        done = subprocess.run(["nvidia-smi", f"--query-gpu={query}", "--format=csv,noheader"],
                              capture_output=True, text=True, timeout=15, check=False)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"not available: {exc}"
    return done.stdout.strip() or done.stderr.strip()


# --- 2. the CUDA tests -------------------------------------------------------------------------
def step_cuda_tests(ctx: Ctx) -> None:
    import xml.etree.ElementTree as ET

    xml = ctx.raw / "cuda_tests.xml"
    workers = ["-n", "8"] if importlib.util.find_spec("xdist") else []
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", *workers,
           f"--junitxml={xml}", *CUDA_TESTS]  # fmt: skip
    say("$ " + " ".join(cmd))
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    sys.stderr.write(done.stdout[-4000:] + done.stderr[-2000:])
    if not xml.exists():
        check("pytest wrote its report", False, rc=done.returncode)
        return
    cases = list(ET.parse(xml).getroot().iter("testcase"))
    skipped = [(c.get("name"), s.get("message", "")) for c in cases for s in c.findall("skipped")]
    failed = [c.get("name") for c in cases if c.find("failure") is not None or c.find("error") is not None]
    fact(tests=len(cases), failed=len(failed), skipped=len(skipped), passed=len(cases) - len(failed) - len(skipped),
         skipped_tests=skipped, failed_tests=failed)  # fmt: skip
    check("pytest passed", done.returncode == 0 and not failed, rc=done.returncode)
    check("no CUDA test skipped", not [s for s in skipped if "CUDA" in s[1].upper()])


# --- 3. eager resnet50 -------------------------------------------------------------------------
def step_eager_bf16(ctx: Ctx) -> None:
    bench_step(ctx, "eager_bf16", "--batch", ",".join(map(str, ctx.batches(1, 64, 256))),
               "--dtype", "bf16", "--channels-last")  # fmt: skip


def step_eager_fp32(ctx: Ctx) -> None:
    bench_step(ctx, "eager_fp32", "--batch", str(ctx.batches(64)[0]), "--dtype", "fp32")


def step_eager_tf32(ctx: Ctx) -> None:
    if not ctx.cuda:
        fact(skip="TF32 is a CUDA setting (bench refuses --dtype tf32 on the CPU)")
        return
    rows = bench_step(ctx, "eager_tf32", "--batch", "64", "--dtype", "tf32")
    _speedup(ctx, rows, "eager_fp32", "tf32_over_fp32")


def step_eager_fp16_amp(ctx: Ctx) -> None:
    if not ctx.cuda:
        fact(skip="fp16 autocast is a CUDA path (the gradient scaler, tensor cores)")
        return
    bench_step(ctx, "eager_fp16_amp", "--batch", "64", "--dtype", "fp16", "--amp", "--channels-last")


# --- 4. the independent references -----------------------------------------------------------
@dataclass(frozen=True)
class Prepared:
    model: Any
    x: Any


def prepare(ctx: Ctx, model: Any, batch: int, dtype_name: str = "bf16") -> Prepared:
    """As bench prepares it: eval, cast to the dtype, channels_last, one input on the device."""
    import torch

    dtype = {"bf16": torch.bfloat16, "fp32": torch.float32}[dtype_name]
    model = model.to(ctx.device, dtype).eval().to(memory_format=torch.channels_last)
    x = torch.randn(batch, 3, ctx.hw, ctx.hw, device=ctx.device, dtype=dtype)
    return Prepared(model, x.contiguous(memory_format=torch.channels_last))


def loop_ms(ctx: Ctx, p: Prepared, seconds: float) -> float:
    """Median ms per forward over back-to-back runs: CUDA events around each run of calls on a
    GPU, the wall clock on the CPU (where a forward is synchronous)."""
    import torch

    call = lambda: p.model(p.x)  # noqa: E731
    with torch.inference_mode():
        calls = _calibrate(ctx, call, seconds / 10)
        per: list[float] = []
        end = time.perf_counter() + seconds
        while time.perf_counter() < end or len(per) < 5:
            per.append(_timed(ctx, call, calls) / calls)
    return statistics.median(per)


def _calibrate(ctx: Ctx, call: Callable[[], Any], slice_s: float) -> int:
    """Warm up (cuDNN's autotuning included), then the number of calls that fill a slice."""
    for _ in range(3):
        call()
    one = _timed(ctx, call, 3) / 3 / 1000
    return max(1, min(1000, int(slice_s / max(one, 1e-6))))


def _timed(ctx: Ctx, call: Callable[[], Any], n: int) -> float:
    import torch

    if ctx.cuda:
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(n):
            call()
        stop.record()
        stop.synchronize()
        return float(start.elapsed_time(stop))
    t0 = time.perf_counter()
    for _ in range(n):
        call()
    return (time.perf_counter() - t0) * 1000


def timer_ms(p: Prepared, seconds: float) -> float:
    """torch.utils.benchmark.Timer's median (it synchronises CUDA itself)."""
    import torch
    import torch.utils.benchmark as tb

    with torch.inference_mode():
        m = tb.Timer(stmt="model(x)", globals={"model": p.model, "x": p.x}).blocked_autorange(min_run_time=seconds)
    return float(m.median * 1000)


def _backends(ctx: Ctx) -> None:
    import torch

    if ctx.cuda:
        torch.backends.cudnn.benchmark = True  # as bench sets it on CUDA
    else:
        torch.set_num_threads(1)  # as the quick bench steps run


def step_reference_loop(ctx: Ctx) -> None:
    import resnet_inspect

    _backends(ctx)
    seconds = 0.2 if ctx.quick else 1.5
    bench_ms = throughput_ms(ctx, "eager_bf16")
    batches = ctx.batches(1, 64, 256)
    for batch in batches:
        p = prepare(ctx, resnet_inspect.build(ctx.arch), batch)
        hand, timer = loop_ms(ctx, p, seconds), timer_ms(p, seconds)
        fact(model="ours", batch=batch, loop_ms=hand, timer_ms=timer, bench_ms=bench_ms.get(batch),
             bench_over_loop=bench_ms[batch] / hand if batch in bench_ms else None)  # fmt: skip
        if ctx.cuda and batch == batches[-1] and batch in bench_ms:
            share = abs(bench_ms[batch] / hand - 1)
            check("bench agrees with the hand loop", share <= AGREEMENT_TOLERANCE, batch=batch,
                  off_by=share, tolerance=AGREEMENT_TOLERANCE)  # fmt: skip
        del p


def step_reference_timm(ctx: Ctx) -> None:
    _against_peer(ctx, "timm", lambda name: __import__("timm").create_model(name, pretrained=False))


def step_reference_torchvision(ctx: Ctx) -> None:
    _against_peer(ctx, "torchvision", lambda name: getattr(__import__("torchvision").models, name)())


def _against_peer(ctx: Ctx, package: str, make: Callable[[str], Any]) -> None:
    """Ours and the peer's resnet50 under the same loop, alternating, so that both see the same
    clocks; the same number of parameters shows it is the same network."""
    if importlib.util.find_spec(package) is None:
        fact(skip=f"{package} is not installed here")
        return
    import resnet_inspect

    _backends(ctx)
    name = "resnet18" if ctx.quick else "resnet50"
    ours, theirs = resnet_inspect.build(name), make(name)
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    check("same parameter count", count(ours) == count(theirs), ours=count(ours), theirs=count(theirs))
    for batch in ctx.batches(1, 256)[:2]:
        a, b = prepare(ctx, ours, batch), prepare(ctx, theirs, batch)
        times: dict[str, list[float]] = {"ours": [], package: []}
        for _ in range(3):
            times["ours"].append(loop_ms(ctx, a, 0.1 if ctx.quick else 0.7))
            times[package].append(loop_ms(ctx, b, 0.1 if ctx.quick else 0.7))
        mine, peer = min(times["ours"]), min(times[package])
        fact(batch=batch, ours_ms=mine, peer_ms=peer, ours_over_peer=mine / peer, runs=times)
        if ctx.cuda:
            check(f"as fast as {package} at batch {batch}", mine <= PEER_TOLERANCE * peer,
                  ratio=mine / peer, tolerance=PEER_TOLERANCE)  # fmt: skip


# --- 5. compiled, training, the layer breakdown ------------------------------------------------
def step_compiled(ctx: Ctx) -> None:
    if not ctx.cuda:
        fact(skip="torch.compile on the CPU takes longer than a quick run allows")
        return
    rows = bench_step(ctx, "compiled", "--batch", "256", "--dtype", "bf16", "--channels-last",
                      "--compile")  # fmt: skip
    _speedup(ctx, rows, "eager_bf16", "compiled_over_eager")


def step_train_amp(ctx: Ctx) -> None:
    # batch 2 at least: batch norm cannot train on one value per channel
    bench_step(ctx, "train_amp", "--batch", "2" if ctx.quick else "128", "--dtype", "bf16", "--amp",
               "--channels-last", "--mode", "train")  # fmt: skip


def step_breakdown_layer(ctx: Ctx) -> None:
    run = bench(ctx, "breakdown_layer", "--batch", str(ctx.batches(64)[0]), "--dtype", "bf16",
                "--channels-last", "--breakdown", "layer", "--top", "8")  # fmt: skip
    check("exit 0", run.rc == 0, rc=run.rc, stderr=run.stderr[-500:])
    results = (run.data or {}).get("results", [])
    row = results[0] if results else {}
    layers = row.get("layers") or []  # every layer (JSON keeps them all; --top cuts the table)
    fact(top_layers=[{k: v for k, v in layer.items() if k in ("layer", "type", "median_ms", "flops_per_s")}
                     for layer in layers[:8]], layers=len(layers), outside_layers_ms=row.get("outside_layers_ms"),
         hook_overhead=row.get("layer_overhead"), forward_ms=row.get("median_ms"))  # fmt: skip
    times = [layer["median_ms"] for layer in layers]
    check("every layer timed, slowest first", bool(times) and times == sorted(times, reverse=True))


# --- 6. Ctrl-C and out of memory in the middle of a sweep -------------------------------------
def step_sigint(ctx: Ctx) -> None:
    """SIGINT to a sweep that would run far longer: exit 130, said so, no half-written -o."""
    out = ctx.raw / "sigint.json"
    out.unlink(missing_ok=True)
    arch = (TINY,) if ctx.quick else ("resnet50", "resnet101")
    args = ["--batch", ",".join(map(str, ctx.batches(1, 8, 64)))]
    cmd = bench_command(ctx, out, *args, arch=arch)
    cmd[cmd.index("--min-time") + 1] = "20"  # long enough that the signal lands mid-sweep
    say("$ " + " ".join(cmd))
    # SIGINT back to its default: a shell that started us in the background ignores it, and
    # an ignored SIGINT is inherited, so Python would never raise KeyboardInterrupt
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # fmt: skip
    time.sleep(4 if ctx.quick else 20)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    sys.stderr.write(stderr)
    data = _complete_json(out)
    leftovers = [p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.")]
    mid = bool(data and data.get("interrupted"))
    fact(rc=proc.returncode, landed="mid-sweep" if mid else "before the sweep", output_written=out.exists(),
         stderr_says_interrupted="interrupted" in stderr,
         statuses=[r["status"] for r in (data or {}).get("results", [])])  # fmt: skip
    check("exit 130", proc.returncode == 130, rc=proc.returncode)
    check("says interrupted", "interrupted" in stderr or mid, stderr=stderr[-300:])
    check("no half-written -o file", not leftovers and (data is not None or not out.exists()),
          leftovers=leftovers)  # fmt: skip
    check("nothing on stdout with -o", stdout == "", stdout=stdout[-200:])
    if ctx.cuda:
        check("the signal landed mid-sweep", mid)


def _complete_json(path: Path) -> dict[str, Any] | None:
    try:
        return dict(json.loads(path.read_text()))
    except (OSError, ValueError):
        return None


# The fraction of the GPU the OOM step's bench may use. bench refuses up front a run whose
# estimate exceeds the free memory, so a batch that cannot fit the whole device never reaches
# the device; under this cap (the caching allocator's, invisible to torch.cuda.mem_get_info) a
# batch passes that check and then runs out of memory for real, in the middle of the sweep.
OOM_CAP = 0.15
OOM_BATCHES = "16,1024,32"  # resnet50, training, bf16 autocast: ~1.5 GiB, ~60 GiB, ~3 GiB


def capped_bench(args: list[str], cap: float) -> subprocess.CompletedProcess[str]:
    """``resnet-inspect ARGS`` in a process whose CUDA allocator may use ``cap`` of the GPU."""
    argv = ["resnet-inspect", *args]
    code = (f"import sys, torch; torch.cuda.set_per_process_memory_fraction({cap!r}); "
            f"from resnet_inspect.cli import main; sys.argv = {argv!r}; main()")  # fmt: skip
    say(f"$ (memory capped at {cap:g} of the GPU) {' '.join(argv)}")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)


def step_oom(ctx: Ctx) -> None:
    if not ctx.cuda:
        fact(skip="an out-of-memory on the CPU is the OOM killer ending the process; CUDA only")
        return
    path = ctx.raw / "oom.json"
    argv = bench_command(ctx, path, "--batch", OOM_BATCHES, "--dtype", "bf16", "--amp", "--mode", "train")
    done = capped_bench(argv[3:], OOM_CAP)
    sys.stderr.write(done.stderr)
    data = _complete_json(path) if done.returncode == 0 else None
    rows = rows_of(BenchRun(done.returncode, data, done.stderr))
    fact(cap=OOM_CAP, rows=rows)
    statuses = {r["batch"]: r["status"] for r in rows}
    small = [int(b) for b in OOM_BATCHES.split(",")]
    check("exit 0", done.returncode == 0, rc=done.returncode, stderr=done.stderr[-500:])
    check("the middle batch is OOM", statuses.get(small[1]) == "oom", statuses=statuses)
    check("the sweep went on", statuses.get(small[0]) == "ok" and statuses.get(small[2]) == "ok")
    check("warned on stderr", "ran out of memory" in done.stderr)


def step_max_batch(ctx: Ctx) -> None:
    path = ctx.raw / "max_batch.json"
    args = ["--dtype", "bf16", "--amp", "--mode", "train", "--max-batch"]
    cmd = bench_command(ctx, path, *args)
    say("$ " + " ".join(cmd))
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    sys.stderr.write(done.stderr)
    data = _complete_json(path) or {}
    fits = data.get("max_batch", [])
    fact(max_batch=[{k: f.get(k) for k in ("variant", "max_batch", "measured", "basis")} for f in fits],
         probes=[f.get("probes") for f in fits])  # fmt: skip
    check("exit 0", done.returncode == 0, rc=done.returncode, stderr=done.stderr[-500:])
    check("a batch fits", bool(fits) and all(f["max_batch"] > 0 for f in fits))
    check("probed for real on CUDA, estimated on the CPU",
          bool(fits) and all(f["measured"] == ctx.cuda for f in fits))


# --- 7. CUDA graphs, and where the time goes ---------------------------------------------------
def step_reduce_overhead(ctx: Ctx) -> None:
    if not ctx.cuda:
        fact(skip="reduce-overhead is CUDA graphs")
        return
    rows = bench_step(ctx, "reduce_overhead", "--batch", "1,8", "--dtype", "bf16", "--channels-last",
                      "--compile-mode", "reduce-overhead")  # fmt: skip
    _speedup(ctx, rows, "eager_bf16", "graphs_over_eager")


def step_profile(ctx: Ctx) -> None:
    """The top kernels of ours (bf16, channels_last, the largest batch) and the share of device
    time outside convolutions: by the aten operator that launched each kernel, and by name."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    import resnet_inspect

    _backends(ctx)
    batch = ctx.batches(1, 64, 256)[-1]
    p = prepare(ctx, resnet_inspect.build(ctx.arch), batch)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if ctx.cuda else [])
    with torch.inference_mode():
        for _ in range(5):
            p.model(p.x)
        if ctx.cuda:
            torch.cuda.synchronize()
        with profile(activities=activities) as prof:
            for _ in range(5):
                p.model(p.x)
            if ctx.cuda:
                torch.cuda.synchronize()
    events = prof.key_averages()
    self_time = lambda e: float(getattr(e, "self_device_time_total" if ctx.cuda else "self_cpu_time_total", 0))  # noqa: E731
    ops = [e for e in events if e.key.startswith("aten::")]
    op_total = sum(self_time(e) for e in ops)
    op_conv = sum(self_time(e) for e in ops if "conv" in e.key)
    fact(batch=batch, by_operator={"total_us": op_total, "convolution_us": op_conv,
                                   "outside_convolution_share": 1 - op_conv / op_total if op_total else None})  # fmt: skip
    if ctx.cuda:
        kernels = sorted((e for e in events if not e.key.startswith("aten::") and self_time(e) > 0),
                         key=self_time, reverse=True)  # fmt: skip
        total = sum(self_time(e) for e in kernels)
        conv = sum(self_time(e) for e in kernels if any(k in e.key.lower() for k in CONV_KERNELS))
        fact(top_kernels=[{"us": self_time(e), "share": self_time(e) / total, "calls": e.count,
                           "kernel": e.key[:160]} for e in kernels[:8]],
             by_kernel_name={"total_us": total, "outside_convolution_share": 1 - conv / total if total else None})  # fmt: skip
    check("the profile saw the operators", op_total > 0)


STEPS: dict[str, Callable[[Ctx], None]] = {
    "env": step_env, "cuda_tests": step_cuda_tests, "eager_bf16": step_eager_bf16,
    "eager_fp32": step_eager_fp32, "eager_tf32": step_eager_tf32, "eager_fp16_amp": step_eager_fp16_amp,
    "reference_loop": step_reference_loop, "reference_timm": step_reference_timm,
    "reference_torchvision": step_reference_torchvision, "compiled": step_compiled,
    "train_amp": step_train_amp, "breakdown_layer": step_breakdown_layer, "sigint": step_sigint,
    "oom": step_oom, "max_batch": step_max_batch, "reduce_overhead": step_reduce_overhead,
    "profile": step_profile,
}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=sorted(STEPS))
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    os.chdir(ROOT)
    STEPS[args.step](Ctx(args.device, args.quick, args.out))


if __name__ == "__main__":
    main()
