"""Read HdrHistogram interval logs (µs) into one histogram, and its percentile spectrum."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

from hdrh.codec import HdrCookieException, HdrHistogramSettingsException, HdrLengthException
from hdrh.histogram import HdrHistogram
from hdrh.log import HistogramLogReader

from veltrix_bench.errors import RunFailed
from veltrix_bench.hdr import new_histogram, values_at_percentiles

# Percentiles for the latency spectrum plot: 1/(1-p) spaced, up to 99.999%.
SPECTRUM_PERCENTILES = (
    0.0, 10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 97.5, 99.0, 99.5, 99.75, 99.9, 99.95, 99.975,
    99.99, 99.995, 99.999, 100.0,
)  # fmt: skip

# What HdrHistogram_py raises for a line cut short or garbled (base64, zlib, its own header).
_UNDECODABLE = (
    ValueError, zlib.error, struct.error, IndexError, HdrCookieException, HdrLengthException,
    HdrHistogramSettingsException,
)  # fmt: skip


def merged_log(
    path: Path, into: HdrHistogram | None = None, *, required: bool = False
) -> HdrHistogram:
    """The sum of every interval of an interval log, read one interval at a time (an hour of
    one-second intervals never sits in memory at once).

    A file that is absent or holds no interval gives an empty histogram, unless `required`
    (the run recorded requests, so the log must hold them): then RunFailed names the file.
    Any line that does not decode is a RunFailed naming the file, never a silent gap.
    """
    total = into if into is not None else new_histogram()
    if not path.exists():
        if required:
            raise RunFailed(f"{path}: missing, but the run recorded requests")
        return total
    reader = HistogramLogReader(str(path), new_histogram())
    intervals = 0
    try:
        while reader.add_next_interval_histogram(total) is not None:
            intervals += 1
    except _UNDECODABLE as exc:
        problem = f"interval {intervals + 1}: {exc}"
        raise RunFailed(f"{path}: not a readable interval log ({problem})") from None
    finally:
        reader.close()
    lines = _interval_lines(path)
    if intervals != lines:
        raise RunFailed(f"{path}: not a readable interval log ({lines - intervals} lines of "
                        f"{lines} are not intervals)")  # fmt: skip
    if required and intervals == 0:
        raise RunFailed(f"{path}: holds no interval, but the run recorded requests")
    return total


def _interval_lines(path: Path) -> int:
    """Lines that are neither comments nor the column legend: each must be one interval."""
    with path.open(errors="replace") as log:
        return sum(
            1 for line in log if line.strip() and not line.startswith(("#", '"StartTimestamp"'))
        )


def spectrum(histogram: HdrHistogram) -> list[tuple[float, float]]:
    """(percentile, ms) points for a percentile-spectrum plot; [] when empty."""
    if histogram.get_total_count() == 0:
        return []
    values = values_at_percentiles(histogram, SPECTRUM_PERCENTILES)
    return [(p, value / 1000) for p, value in zip(SPECTRUM_PERCENTILES, values, strict=True)]
