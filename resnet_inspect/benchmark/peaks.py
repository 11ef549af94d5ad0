"""Dense peaks of known GPUs (plain data): which part a device is, which of its peaks a run is
held to, and which roof of the roofline limits a stage."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

from .config import Precision


@dataclass(frozen=True)
class DevicePeak:
    """A GPU's dense (not 2:4-sparse) tensor throughput in TFLOP/s, and memory bandwidth."""

    part: str
    tflops: Mapping[str, float]  # by precision: fp32 (no tensor cores), tf32, bf16, fp16
    bandwidth_gb_s: float | None = None


# NVIDIA datasheets (H100: "NVIDIA H100 Tensor Core GPU" datasheet; A100: "NVIDIA A100 Tensor
# Core GPU" datasheet). The datasheets headline the 2:4-sparse figures; dense is half of those.
# H200 has H100 SXM's compute and faster memory. A100 bandwidth differs between its 40 and
# 80 GB versions, so it is left out.
H100_SXM = DevicePeak("H100 SXM", {"fp32": 67.0, "tf32": 495.0, "bf16": 989.0, "fp16": 989.0}, 3350.0)
H100_PCIE = DevicePeak("H100 PCIe", {"fp32": 51.0, "tf32": 378.0, "bf16": 756.0, "fp16": 756.0}, 2000.0)
H200 = DevicePeak("H200", {"fp32": 67.0, "tf32": 495.0, "bf16": 989.0, "fp16": 989.0}, 4800.0)
A100 = DevicePeak("A100", {"fp32": 19.5, "tf32": 156.0, "bf16": 312.0, "fp16": 312.0})
KNOWN_PARTS: tuple[tuple[str, int, DevicePeak], ...] = (
    ("H100", 132, H100_SXM), ("H100", 114, H100_PCIE), ("H200", 132, H200), ("A100", 108, A100),
)  # fmt: skip


class Bound(str, Enum):
    """The roof that limits a stage: below the ridge point (FLOPs per byte where the compute
    roof meets the memory roof), memory bandwidth; above it, compute."""

    MEMORY = "memory"
    COMPUTE = "compute"


def identify_peak(name: str, sm_count: int | None) -> DevicePeak | None:
    """The part from its name and multiprocessor count; None when it is not one we know.

    NVL parts share the SXM's SM count but run at a lower power limit: not assumed to match.
    """
    upper = name.upper()
    if "NVL" in upper or sm_count is None:
        return None
    return next((p for token, sms, p in KNOWN_PARTS if token in upper and sms == sm_count), None)


def peak_basis(precision: Precision, tf32_convolutions: bool) -> str:
    """Which peak a run is compared with: fp32 convolutions run on TF32 tensor cores whenever
    cuDNN is allowed TF32 (PyTorch's default), so that is the ceiling they can reach."""
    if precision is Precision.FP32:
        return "tf32" if tf32_convolutions else "fp32"
    return str(precision.value)
