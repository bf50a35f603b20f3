"""The one latency type: a histogram's figures in milliseconds, as every stage carries them."""

from __future__ import annotations

import msgspec
from hdrh.histogram import HdrHistogram

from veltrix_bench.hdr import mean_value, values_at_percentiles


class Latency(msgspec.Struct, frozen=True, kw_only=True):
    """Milliseconds, rounded to the microsecond; every figure None when nothing was recorded."""

    p50: float | None = None
    p90: float | None = None
    p95: float | None = None
    p99: float | None = None
    p999: float | None = None
    max: float | None = None
    mean: float | None = None


EMPTY = Latency()


def latency_of(histogram: HdrHistogram) -> Latency:
    """The figures of a histogram recorded in microseconds (see veltrix_bench.hdr)."""
    if histogram.get_total_count() == 0:
        return EMPTY
    p50, p90, p95, p99, p999 = values_at_percentiles(histogram, (50, 90, 95, 99, 99.9))
    return Latency(
        p50=_ms(p50),
        p90=_ms(p90),
        p95=_ms(p95),
        p99=_ms(p99),
        p999=_ms(p999),
        max=_ms(histogram.get_max_value()),
        mean=_ms(mean_value(histogram)),
    )


def _ms(microseconds: float) -> float:
    return round(microseconds / 1000.0, 3)
