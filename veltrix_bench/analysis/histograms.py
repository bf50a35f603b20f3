"""Read HdrHistogram interval logs (µs) and turn histograms into latency figures in ms."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hdrh.histogram import HdrHistogram
from hdrh.log import HistogramLogReader

from veltrix_bench.hdr import new_histogram, values_at_percentiles

# Percentiles for the latency spectrum plot: 1/(1-p) spaced, up to 99.999%.
SPECTRUM_PERCENTILES = (
    0.0, 10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 97.5, 99.0, 99.5, 99.75, 99.9, 99.95, 99.975,
    99.99, 99.995, 99.999, 100.0,
)  # fmt: skip


@dataclass(frozen=True)
class LatencyFigures:
    """Milliseconds; all None when nothing was recorded."""

    p50: float | None
    p90: float | None
    p95: float | None
    p99: float | None
    p999: float | None
    max: float | None
    mean: float | None
    count: int


def merged_log(path: Path, into: HdrHistogram | None = None) -> HdrHistogram:
    """The sum of every interval of an interval log, read one interval at a time (an hour of
    one-second intervals never sits in memory at once); empty if the file is absent."""
    total = into if into is not None else new_histogram()
    if not path.exists():
        return total
    reader = HistogramLogReader(str(path), new_histogram())
    try:
        while reader.add_next_interval_histogram(total) is not None:
            pass
    finally:
        reader.close()
    return total


def figures(histogram: HdrHistogram) -> LatencyFigures:
    count = histogram.get_total_count()
    if count == 0:
        return LatencyFigures(None, None, None, None, None, None, None, 0)

    p50, p90, p95, p99, p999 = (
        round(value / 1000, 3) for value in values_at_percentiles(histogram, (50, 90, 95, 99, 99.9))
    )
    return LatencyFigures(
        p50=p50,
        p90=p90,
        p95=p95,
        p99=p99,
        p999=p999,
        max=round(histogram.get_max_value() / 1000, 3),
        mean=round(histogram.get_mean_value() / 1000, 3),
        count=count,
    )


def spectrum(histogram: HdrHistogram) -> list[tuple[float, float]]:
    """(percentile, ms) points for a percentile-spectrum plot; [] when empty."""
    if histogram.get_total_count() == 0:
        return []
    values = values_at_percentiles(histogram, SPECTRUM_PERCENTILES)
    return [(p, value / 1000) for p, value in zip(SPECTRUM_PERCENTILES, values, strict=True)]
