"""Statistics of raw times, as :func:`quantile` and as properties of the records that hold them.

Plain data, no torch. What is shown is the median and the 10th and 90th percentiles; the
interquartile range over the median flags a noisy measurement.
"""

from __future__ import annotations

from collections.abc import Sequence

NOISE_THRESHOLD = 0.10  # IQR / median above this: the measurement is flagged as noisy


def quantile(values: Sequence[float], q: float) -> float:
    """The q-quantile, interpolating linearly between the closest ranks (numpy's default)."""
    if not values:
        raise ValueError("quantile of no values")
    ordered = sorted(values)
    pos = q * (len(ordered) - 1)
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


class TimeStatistics:
    """The statistics of ``times_s`` (seconds, one per timed iteration) as properties; a base
    for the frozen records that hold raw times (a measurement, a stage of one)."""

    times_s: tuple[float, ...]

    @property
    def samples(self) -> int:
        return len(self.times_s)

    @property
    def median_s(self) -> float:
        return quantile(self.times_s, 0.5)

    @property
    def p10_s(self) -> float:
        return quantile(self.times_s, 0.1)

    @property
    def p90_s(self) -> float:
        return quantile(self.times_s, 0.9)

    @property
    def iqr_s(self) -> float:
        return quantile(self.times_s, 0.75) - quantile(self.times_s, 0.25)

    @property
    def min_s(self) -> float:
        return min(self.times_s)

    @property
    def max_s(self) -> float:
        return max(self.times_s)

    @property
    def iqr_share(self) -> float:
        """The interquartile range as a share of the median: over NOISE_THRESHOLD is noisy."""
        return self.iqr_s / self.median_s

    @property
    def noisy(self) -> bool:
        return self.iqr_s > NOISE_THRESHOLD * self.median_s
