"""What is timed and under which settings: a :class:`BenchTask` (one variant at one batch size)
under a :class:`BenchConfig`, the closed choices, and the parsing of the command's values.

Plain data, no torch: the command line parses its flags through this module before torch is
imported, so ``--help`` and bad values stay instant. The ``parse_*`` functions read command-line
text and name their flag; the ``check_*`` functions check values made any way and name the
argument (``batches``, ``warmup_s``) in the message and as the error's ``subject``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any

from ..choices import parse_choice
from ..errors import SpecError, UsageError
from ..spec import ResNetSpec, parse_dims
from ..usermodel import UserModel

if TYPE_CHECKING:
    from ..sources import Source

MIN_SAMPLES = 5  # per configuration, however long one iteration takes
ROUNDS = 5  # min_time is spread over at least this many interleaved turns
MAX_BATCH = 2**20  # far past any device's memory at any input; the memory check refuses sooner
MAX_SECONDS = 3600.0  # --warmup and --min-time: an hour per configuration at most
MAX_TOP = 100_000  # --top: more rows than any ResNet has layers


def usable_cpus() -> int:
    """Logical CPUs this process may run on (its affinity mask, as containers set it)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


class Precision(str, Enum):
    FP32 = "fp32"
    TF32 = "tf32"  # float32 tensors, TF32 tensor-core math for matmul and convolution
    BF16 = "bf16"
    FP16 = "fp16"

    @property
    def itemsize(self) -> int:
        """Bytes per tensor element: TF32 is float32 storage with TF32 math."""
        return 2 if self in (Precision.BF16, Precision.FP16) else 4

    @classmethod
    def _missing_(cls, value: object) -> Precision | None:
        alias = PRECISION_ALIASES.get(value) if isinstance(value, str) else None
        return cls(alias) if alias else None


PRECISION_ALIASES = {"float32": "fp32", "float": "fp32", "bfloat16": "bf16", "float16": "fp16",
                     "half": "fp16"}  # fmt: skip


class Mode(str, Enum):
    INFER = "infer"  # eval mode, inference_mode, a forward pass
    TRAIN = "train"  # train mode: forward, loss, backward, optimizer step


class Optimizer(str, Enum):
    SGD = "sgd"  # with momentum 0.9 (the ResNet paper's)
    ADAMW = "adamw"


class Breakdown(str, Enum):
    OFF = "off"
    STAGE = "stage"  # stem, layer1.., head
    LAYER = "layer"  # every leaf module


class CompileMode(str, Enum):
    DEFAULT = "default"
    REDUCE_OVERHEAD = "reduce-overhead"  # CUDA graphs
    MAX_AUTOTUNE = "max-autotune"


class Status(str, Enum):
    OK = "ok"
    OOM = "oom"  # out of memory at this batch size; the sweep went on
    NOT_COMPILED = "not compiled"  # torch.compile fell back to eager: refused, not timed
    INTERRUPTED = "interrupted"  # Ctrl-C before this configuration finished


@dataclass(frozen=True)
class BenchConfig:
    """The settings every configuration of one run shares."""

    device: str = "cpu"
    precision: Precision = Precision.FP32
    amp: bool = False  # autocast with float32 weights, instead of casting the model
    channels_last: bool = False
    compile_mode: CompileMode | None = None
    warmup_s: float = 1.0
    min_time_s: float = 2.0
    threads: int | None = None  # None: leave torch's default (one per physical core)
    breakdown: Breakdown = Breakdown.OFF  # True and False are read as STAGE and OFF
    weights: str | None = None  # a checkpoint loaded into every model before timing
    mode: Mode = Mode.INFER
    optimizer: Optimizer = Optimizer.SGD  # for Mode.TRAIN
    top: int | None = None  # with Breakdown.LAYER: only the N slowest layers

    def __post_init__(self) -> None:
        if isinstance(self.breakdown, bool):  # the boolean of earlier releases: the stages
            object.__setattr__(self, "breakdown", Breakdown.STAGE if self.breakdown else Breakdown.OFF)
        for name, enum in _CHOICE_FIELDS.items():  # text from the API ("train") as the member
            value = getattr(self, name)
            if value is not None or name != "compile_mode":
                object.__setattr__(self, name, parse_choice(enum, value, name))

    @property
    def training(self) -> bool:
        return self.mode is Mode.TRAIN

    @property
    def is_cuda(self) -> bool:
        return self.device.startswith("cuda")

    @property
    def layout(self) -> str:
        return "channels_last" if self.channels_last else "contiguous (NCHW)"


_CHOICE_FIELDS: dict[str, type[Enum]] = {
    "precision": Precision, "compile_mode": CompileMode, "breakdown": Breakdown, "mode": Mode,
    "optimizer": Optimizer,
}  # fmt: skip


@dataclass(frozen=True)
class BenchTask:
    """One configuration: a variant at one batch size. ``source`` knows its label, its spec
    and how to build it on the device; the bench asks it rather than what kind it is."""

    source: Source  # one of ours, or the user's own model (file.py:Name): sources.BENCHABLE
    batch: int
    input_chw: tuple[int, int, int]

    def __post_init__(self) -> None:
        """A spec, a preset or spec string, or a UserModel from the API as its Source; an
        nn.Module is refused: the bench builds its own copies on the device."""
        from ..sources import BENCHABLE, open_source

        object.__setattr__(self, "source", open_source(self.source, subject="source", accept=BENCHABLE))

    @property
    def label(self) -> str:
        return self.source.label

    @property
    def spec(self) -> ResNetSpec | None:
        """The variant; None for the user's own model."""
        return self.source.spec

    @property
    def input_shape(self) -> tuple[int, int, int, int]:
        return (self.batch, *self.input_chw)


# --- the command's values, from its flags' text --------------------------------------------------
def parse_batches(text: str) -> tuple[int, ...]:
    """``"1,8,32"`` -> (1, 8, 32); repeated sizes are measured once, in the order given."""
    try:
        sizes = [int(p) for p in text.replace(" ", "").split(",")]
    except ValueError:
        raise UsageError(f"--batch {text!r}: expected batch sizes like 1,8,32") from None
    if any(not 1 <= b <= MAX_BATCH for b in sizes):
        raise UsageError(f"--batch {text!r}: every batch size must be from 1 to {MAX_BATCH}")
    return tuple(dict.fromkeys(sizes))


def parse_chw(text: str) -> tuple[int, int, int]:
    """``"3x224x224"`` -> (3, 224, 224). The batch comes from --batch, not from here."""
    c, h, w = parse_dims(text, "--input", "CxHxW", "3x224x224", " (the batch is --batch)")
    return c, h, w


def parse_bench_input(text: str | None, batch: str | None) -> tuple[tuple[int, ...], tuple[int, int, int] | None]:
    """``--input`` as every command takes it, BxCxHxW, and ``--batch`` for a sweep: the
    batch sizes and one image's CxHxW. The rule: --batch gives the batches; without it the
    input's B is the batch; both may be given when they agree (B is one of the batches is
    not enough: a sweep is said with --batch alone). A CxHxW input (the old form) is taken too."""
    if text is not None and text.strip().lower().count("x") == 2:
        return parse_batches(batch or "1"), parse_chw(text)
    if text is None:
        return parse_batches(batch or "1"), None
    b, c, h, w = parse_dims(text, "--input", "BxCxHxW", "1x3x224x224", " (or CxHxW; a sweep: --batch 1,8,32)")
    if batch is None:
        return (b,), (c, h, w)
    batches = parse_batches(batch)
    if batches != (b,):
        raise UsageError(f"--input {text!r} says batch {b} but --batch says {batch}: give the batch "
                         f"once (--input {c}x{h}x{w} --batch {batch}, or --input {text} alone)")
    return batches, (c, h, w)


def parse_device(text: str) -> str:
    """Syntax only: ``cpu``, ``cuda`` or ``cuda:N``; whether it exists is checked before a run."""
    key = text.strip().lower()
    if key == "cpu" or key == "cuda":
        return key
    index = key.removeprefix("cuda:")
    if key.startswith("cuda:") and index.isdigit():
        return f"cuda:{int(index)}"
    raise UsageError(f"--device {text!r}: not one of cpu, cuda, cuda:N")


# --- the library's values, however they were made: errors name the argument ---------------------
def resolve_variants(
    variants: Sequence[Source | ResNetSpec | UserModel | str | None],
    resolve_one: Callable[[Any], Source] | None = None,
) -> tuple[Source, ...]:
    """Each variant (a spec, a preset or spec string, None for the default, or the user's own
    code) as a Source, each once, in order; an error names the variant when there are several."""
    if not variants:
        raise UsageError("variants: at least one is needed", subject="variants")
    from ..sources import BENCHABLE, open_source

    opened = resolve_one or (lambda v: open_source(v, subject="variants", accept=BENCHABLE))
    sources: list[Source] = []
    for variant in variants:
        try:
            source = opened(variant)
        except SpecError as exc:
            if len(variants) == 1:
                raise
            raise type(exc)(f"variant {variant!r}: {exc}") from None
        if source not in sources:  # the same variant however it was written
            sources.append(source)
    return tuple(sources)


def check_batches(batches: Sequence[int]) -> tuple[int, ...]:
    """Batch sizes, each measured once, in the order given."""
    if not batches or any(isinstance(b, bool) or not isinstance(b, int) or not 1 <= b <= MAX_BATCH
                          for b in batches):  # fmt: skip
        raise UsageError(f"batches {list(batches)}: expected one or more whole numbers, each from "
                         f"1 to {MAX_BATCH}", subject="batches")  # fmt: skip
    return tuple(dict.fromkeys(batches))


def check_input_shape(shape: Sequence[int]) -> tuple[int, int, int]:
    """One image's shape, CxHxW: the batch comes from the batch sizes."""
    dims = tuple(shape)
    if len(dims) != 3 or any(isinstance(d, bool) or not isinstance(d, int) or d < 1 for d in dims):
        raise UsageError(f"input_shape {list(dims)}: expected CxHxW, 3 whole numbers of at least 1 "
                         "(the batch is in batches)", subject="input_shape")  # fmt: skip
    c, h, w = dims
    return c, h, w


def check_values(config: BenchConfig) -> None:
    """The combinations and values no machine can run: UsageError naming the field. Whether
    this machine has the device and runs the precision is checked in ``environment.py``."""
    if config.amp and config.precision not in (Precision.BF16, Precision.FP16):
        raise UsageError(f"amp: autocast needs precision bf16 or fp16, not {config.precision.value}",
                         subject="amp")  # fmt: skip
    if config.training and config.precision is Precision.FP16 and not config.amp:
        raise UsageError("mode train: fp16 weights lose small updates and fp16 gradients "
                         "underflow; train with amp (float32 weights, fp16 autocast and a "
                         "gradient scaler) or bf16", subject="mode")  # fmt: skip
    if not 0 <= config.warmup_s <= MAX_SECONDS:  # nan and inf would time forever
        raise UsageError(f"warmup_s {config.warmup_s}: must be from 0 to {MAX_SECONDS:g} seconds",
                         subject="warmup_s")  # fmt: skip
    if not 0 < config.min_time_s <= MAX_SECONDS:
        raise UsageError(f"min_time_s {config.min_time_s}: must be more than 0 and at most "
                         f"{MAX_SECONDS:g} seconds", subject="min_time_s")  # fmt: skip
    cpus = usable_cpus()
    if config.threads is not None and not 1 <= config.threads <= cpus:
        raise UsageError(f"threads {config.threads}: must be from 1 to {cpus}, the CPUs this "
                         "process may use", subject="threads")  # fmt: skip
    if config.top is not None and not 1 <= config.top <= MAX_TOP:
        raise UsageError(f"top {config.top}: must be from 1 to {MAX_TOP}", subject="top")
    if config.top is not None and config.breakdown is not Breakdown.LAYER:
        raise UsageError("top: needs breakdown layer", subject="top")
    if not config.is_cuda and config.precision is Precision.TF32:
        raise UsageError("precision tf32: TF32 is a CUDA tensor-core mode; on cpu use fp32",
                         subject="precision")  # fmt: skip
