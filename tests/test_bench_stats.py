"""bench's statistics on skewed, outlier-heavy samples (computed by hand), a warm-up that really
runs before the first timed sample, and a resident-memory peak that belongs to the memory pass
and not to the whole life of the process."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from torch import nn

# internals (module paths may be renamed: keep these lines together); resolve is public
from resnet_inspect.benchmark import (
    BenchConfig,
    BenchTask,
    Measurement,
    Status,
    engine,
    quantile,
    run_bench,
)
from resnet_inspect.benchmark.clocks import Clock
from resnet_inspect.sources import open_source

SKEWED = [1.0, 2.0, 3.0, 4.0, 100.0]  # one huge outlier: mean 22, median 3
TINY = "block=basic,layers=1,widths=8,stem=cifar,stem_width=8,shortcut=A,num_classes=10"


def tiny_task(batch: int = 1) -> BenchTask:
    return BenchTask(open_source(TINY), batch, (3, 16, 16))


def measured(times_ms: list[float], batch: int = 1) -> Measurement:
    return Measurement(tiny_task(batch), Status.OK, flops=1_000_000,
                       times_s=tuple(t / 1000 for t in times_ms))  # fmt: skip


# --- quantiles, by hand --------------------------------------------------------------------------
# Linear interpolation between the closest ranks: position q * (n - 1) in the sorted values;
# for 5 values: q=0.1 -> 0.4, 0.25 -> 1, 0.5 -> 2, 0.75 -> 3, 0.9 -> 3.6.
@pytest.mark.parametrize(
    ("q", "expected"),
    [
        (0.0, 1.0),
        (0.1, 1.0 + 0.4 * (2.0 - 1.0)),  # 1.4
        (0.25, 2.0),
        (0.5, 3.0),  # the median: not the mean 22
        (0.75, 4.0),
        (0.9, 4.0 + 0.6 * (100.0 - 4.0)),  # 61.6: the outlier pulls only the top decile
        (1.0, 100.0),
    ],
)
def test_quantiles_of_a_skewed_sample(q: float, expected: float) -> None:
    """Catches the nearest-rank or exclusive method (p10 of 5 values would be 1 or below it),
    q * n instead of q * (n - 1), interpolating from the wrong neighbour, and unsorted input
    read as is."""
    assert quantile(SKEWED, q) == pytest.approx(expected)
    assert quantile([100.0, 3.0, 1.0, 4.0, 2.0], q) == pytest.approx(expected)


def test_quantile_of_an_even_count_falls_between_the_middle_two() -> None:
    # [1, 2, 3, 10]: median at position 1.5 -> 2 + 0.5 * (3 - 2) = 2.5; p90 at 2.7 -> 3 + 0.7 * 7
    assert quantile([10.0, 1.0, 3.0, 2.0], 0.5) == pytest.approx(2.5)
    assert quantile([10.0, 1.0, 3.0, 2.0], 0.9) == pytest.approx(3.0 + 0.7 * 7.0)


def test_quantile_agrees_with_numpy_default() -> None:
    np = pytest.importorskip("numpy")
    data = [5.0, 0.5, 0.7, 0.6, 0.55, 0.65, 12.0, 0.58]
    for q in (0.1, 0.25, 0.5, 0.75, 0.9):
        assert quantile(data, q) == pytest.approx(float(np.quantile(data, q)))


def test_measurement_statistics_resist_the_outlier() -> None:
    """Times 1, 2, 3, 4, 100 ms: median 3 ms (the mean would be 22), p10 1.4, p90 61.6,
    IQR 4 - 2 = 2 ms; throughput from the median. Catches mean for median, p10/p90 swapped,
    IQR as max - min, throughput from the mean or the fastest sample."""
    m = measured(SKEWED, batch=4)
    assert m.median_s == pytest.approx(0.003)
    assert m.p10_s == pytest.approx(0.0014) and m.p90_s == pytest.approx(0.0616)
    assert m.p10_s < m.median_s < m.p90_s
    assert m.iqr_s == pytest.approx(0.002)
    assert (m.min_s, m.max_s) == (pytest.approx(0.001), pytest.approx(0.1))
    assert m.images_per_s == pytest.approx(4 / 0.003)
    assert m.flops_per_s == pytest.approx(1_000_000 / 0.003)
    assert m.noisy  # IQR 2 ms is 67% of 3 ms


# --- the noise flag at its 10% threshold ------------------------------------------------------------
# Five samples around a 100 ms median with wild outliers at both ends: IQR = q75 - q25 = the 4th
# minus the 2nd sorted sample. The outliers must not matter: that is why the flag uses the IQR.
@pytest.mark.parametrize(
    ("times_ms", "noisy"),
    [
        ([1.0, 95.05, 100.0, 104.95, 1000.0], False),  # IQR 9.9 ms = 9.9% of the median
        ([1.0, 94.95, 100.0, 105.05, 1000.0], True),  # IQR 10.1 ms = 10.1%
        ([95.05, 100.0, 104.95, 5000.0, 9000.0], True),  # median 104.95, IQR 5000 - 100
        ([99.0, 99.5, 100.0, 100.5, 101.0], False),  # IQR 1%
    ],
)
def test_noise_flag_at_the_ten_percent_threshold(times_ms: list[float], noisy: bool) -> None:
    """Catches a threshold other than 10%, >= turned into a ratio of the mean, and the spread
    measured by max - min or the standard deviation (the outliers would flag the first row)."""
    assert measured(times_ms).noisy is noisy


# --- the warm-up runs before the first timed sample -------------------------------------------------
class _Counting(nn.Module):
    """The real model, with a log of the start time of every forward call."""

    def __init__(self, inner: nn.Module, log: list[float]) -> None:
        super().__init__()
        self.inner, self.log = inner, log

    def forward(self, x: Any) -> Any:
        self.log.append(time.perf_counter())
        return self.inner(x)


def _observe(monkeypatch: pytest.MonkeyPatch) -> tuple[list[float], dict[str, float]]:
    """Count forward calls, and note how many had run when the memory pass and the first
    timing turn began."""
    log: list[float] = []
    marks: dict[str, float] = {}
    make, memory_pass, turn = engine._make_model, engine.memory_pass, engine._turn
    monkeypatch.setattr(engine, "_make_model", lambda source, config: _Counting(make(source, config), log))

    def at_memory(*args: Any) -> Any:
        marks.setdefault("memory", len(log))
        marks.setdefault("memory_at", time.perf_counter())
        return memory_pass(*args)

    def at_turn(*args: Any) -> Any:
        marks.setdefault("timing", len(log))
        return turn(*args)

    monkeypatch.setattr(engine, "memory_pass", at_memory)
    monkeypatch.setattr(engine, "_turn", at_turn)
    return log, marks


class _FakeClock(Clock):
    """Every forward really runs but is said to take 1/8 s: the warm-up's arithmetic is exact."""

    def time_one(self, step: Callable[[], Any]) -> float:
        step()
        return 0.125


def test_warm_up_runs_for_its_time_before_any_timed_sample(monkeypatch: pytest.MonkeyPatch) -> None:
    """warmup 0.5 s at 0.125 s a call: 4 warm-up calls, then 1 memory pass, then timing
    (0.625 s over 5 turns of 0.125 s: 5 samples). Catches a warm-up skipped, cut to one call,
    or done after timing has started (the first samples would be cold)."""
    log, marks = _observe(monkeypatch)
    monkeypatch.setattr(engine, "clock_for", lambda config: _FakeClock())
    result = run_bench([tiny_task()], BenchConfig(warmup_s=0.5, min_time_s=0.625, threads=1))
    m = result.measurements[0]
    assert m.ok and m.times_s == (0.125,) * 5
    assert marks["memory"] >= 0.5 / 0.125  # warm-up calls before the memory pass
    assert marks["timing"] >= 0.5 / 0.125 + 1  # ... and the memory pass before timing
    assert len(log) == marks["timing"] + m.samples  # every later call is a timed sample


def test_warm_up_with_the_real_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """With the real clock: at least 0.05 s of forward passes before the memory pass."""
    log, marks = _observe(monkeypatch)
    run_bench([tiny_task()], BenchConfig(warmup_s=0.05, min_time_s=0.02, threads=1))
    assert marks["memory"] >= 1
    assert marks["memory_at"] - log[0] >= 0.05 - 1e-3


def test_even_a_zero_warm_up_runs_one_call_first(monkeypatch: pytest.MonkeyPatch) -> None:
    """--warmup 0 still makes one untimed call first, so the one-time costs of the first call
    (allocations, kernel selection) land in neither the memory pass nor the samples."""
    _log, marks = _observe(monkeypatch)
    run_bench([tiny_task()], BenchConfig(warmup_s=0.0, min_time_s=0.02, threads=1))
    assert marks["memory"] >= 1 and marks["timing"] >= 2


# --- the memory pass's resident peak is its own -----------------------------------------------------
def _status_kib(key: str) -> int:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise AssertionError(f"{key} not in /proc/self/status")


def test_resident_peak_is_this_pass_not_the_process_lifetime() -> None:
    """Touch 300 MB, free it, then measure a tiny model: its resident peak must be far below
    the process's high-water mark of a moment ago. Catches VmHWM read without resetting it
    (the lifetime peak: every row would show the largest thing the process ever held)."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")  # reset the high-water mark, as the memory pass does
    except OSError:
        pytest.skip("/proc/self/clear_refs is not writable here (not Linux, or not allowed)")
    size = 300 * 2**20
    buf = bytearray(size)
    buf[::4096] = b"\x01" * len(range(0, size, 4096))  # every page resident
    high = _status_kib("VmHWM") * 1024
    del buf
    resident_now = _status_kib("VmRSS") * 1024
    assert high - resident_now > 250 * 2**20  # the buffer really went back to the system

    result = run_bench([tiny_task()], BenchConfig(warmup_s=0.0, min_time_s=0.02, threads=1))
    memory = result.measurements[0].memory
    assert memory is not None and memory.resident_bytes is not None
    assert memory.resident_bytes < high - 200 * 2**20
    # and it is the process's resident memory, not a difference: at least what is resident now
    assert memory.resident_bytes > resident_now - 64 * 2**20
