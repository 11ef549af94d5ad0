"""identify of a hand-written resnet50 (structure, alignment, transfer, three forward passes
of each model, shadow localisation where the outputs differ) against three plain CPU forward
passes of the same model at 1x3x224x224: the cost of the proof, as a multiple.

Same process, interleaved repeats, medians of wall and CPU time (the CPU time is less
disturbed by other work on a shared machine). The model is defined here and identified as a
user's file would be, ``benchmarks/identify_function.py:HandResNet50``; ``Mistaken`` has a
ReLU before the sum in layer3.2, so that the localisation runs too.

    python benchmarks/identify_function.py --repeats 7 --threads 1
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

SHAPE = (1, 3, 224, 224)


class Bottleneck(nn.Module):
    def __init__(self, cin: int, planes: int, stride: int, relu_before_sum: bool = False) -> None:
        super().__init__()
        out = planes * 4
        self.relu_before_sum = relu_before_sum
        self.c1, self.n1 = nn.Conv2d(cin, planes, 1, bias=False), nn.BatchNorm2d(planes)
        self.c2, self.n2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False), nn.BatchNorm2d(planes)
        self.c3, self.n3 = nn.Conv2d(planes, out, 1, bias=False), nn.BatchNorm2d(out)
        self.proj = (nn.Sequential(nn.Conv2d(cin, out, 1, stride, bias=False), nn.BatchNorm2d(out))
                     if stride != 1 or cin != out else None)  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.proj is None else self.proj(x)
        y = F.relu(self.n1(self.c1(x)))
        y = F.relu(self.n2(self.c2(y)))
        y = self.n3(self.c3(y))
        return F.relu(y) + shortcut if self.relu_before_sum else F.relu(y + shortcut)


class HandResNet50(nn.Module):
    def __init__(self, mistake_at: str = "") -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
                                  nn.MaxPool2d(3, 2, 1))  # fmt: skip
        blocks, cin = [], 64
        for s, (planes, n, stride) in enumerate(((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)), start=1):
            for i in range(n):
                blocks.append(Bottleneck(cin, planes, stride if i == 0 else 1, f"layer{s}.{i}" == mistake_at))
                cin = planes * 4
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Linear(2048, 1000)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.flatten(F.adaptive_avg_pool2d(self.blocks(self.stem(x)), 1), 1))


def Mistaken() -> HandResNet50:
    return HandResNet50("layer3.2")


def _timed(fn: Callable[[], object]) -> tuple[float, float, int]:
    """Wall and CPU seconds, and the minor page faults (fresh memory touched for the first
    time: a resnet50's 100 MB of weights cost about 0.03 s of them on the 2-core VM)."""
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
    return time.perf_counter() - wall, time.process_time() - cpu, faults


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    import resnet_inspect

    here = Path(__file__).resolve()
    model = HandResNet50().eval()
    x = torch.randn(SHAPE)

    def plain() -> None:
        with torch.no_grad():
            for _ in range(3):
                model(x)

    contenders = {
        "3 plain forward passes": plain,
        "identify (outputs equal)": lambda: resnet_inspect.identify(f"{here}:HandResNet50"),
        "identify (a mistake in layer3.2: + localisation)": lambda: resnet_inspect.identify(f"{here}:Mistaken"),
    }
    check = resnet_inspect.identify(f"{here}:HandResNet50").data
    assert check.exact, check.verdict
    wrong = resnet_inspect.identify(f"{here}:Mistaken").data
    assert wrong.proof.divergence == "blocks.9" or wrong.proof.divergence == "layer3.2", wrong.verdict
    times: dict[str, list[tuple[float, float, int]]] = {k: [] for k in contenders}
    load = os.getloadavg()[0]
    for _ in range(args.repeats):
        for name, fn in contenders.items():
            times[name].append(_timed(fn))
    base_wall = statistics.median(w for w, _, _ in times["3 plain forward passes"])
    base_cpu = statistics.median(c for _, c, _ in times["3 plain forward passes"])
    print(f"torch {torch.__version__}, {args.threads} threads, {args.repeats} interleaved repeats, medians; "
          f"input {'x'.join(map(str, SHAPE))}; load average {load:.1f} before, {os.getloadavg()[0]:.1f} after")  # fmt: skip
    print("| what | wall | CPU | wall ratio | CPU ratio | page faults |\n|---|---:|---:|---:|---:|---:|")
    for name, got in times.items():
        wall, cpu = statistics.median(w for w, _, _ in got), statistics.median(c for _, c, _ in got)
        faults = statistics.median(f for _, _, f in got)
        print(f"| {name} | {wall:.2f} s | {cpu:.2f} s | {wall / base_wall:.2f}x | {cpu / base_cpu:.2f}x "
              f"| {faults:,.0f} |")  # fmt: skip
    print(f"verdicts: {check.verdict!r}; {wrong.verdict!r}")


if __name__ == "__main__":
    main()
