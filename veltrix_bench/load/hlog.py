"""The run's HdrHistogram interval logs (latency.hlog, service.hlog): one interval a second."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from hdrh.histogram import HdrHistogram
from hdrh.log import HistogramLogWriter

LATENCY_LOG = "latency.hlog"
SERVICE_LOG = "service.hlog"


class IntervalLog:
    """An HdrHistogram interval log: header with start time, then one line per interval."""

    def __init__(self, path: Path, start_epoch: float, what: str) -> None:
        start_epoch = round(start_epoch, 3)
        self._file: IO[str] = path.open("w", encoding="utf-8")
        self._writer = HistogramLogWriter(self._file)
        started = datetime.fromtimestamp(start_epoch, tz=UTC).isoformat(sep=" ")
        self._writer.output_comment(f"[vbench {what}, values in microseconds]")
        self._writer.output_log_format_version()
        # HistogramLogWriter.output_start_time is broken in hdrhistogram 0.10.8
        # (datetime.iso_format): write the same line ourselves.
        # StartTime and BaseTime must print the same digits: the reader drops intervals
        # whose start falls before StartTime, even by a rounding error
        self._writer.output_comment(
            f"[StartTime: {start_epoch:f} (seconds since epoch), {started}]"
        )
        self._writer.output_base_time(start_epoch * 1000.0)
        self._writer.output_legend()
        self._file.flush()

    def write(self, histogram: HdrHistogram, start_s: float, end_s: float) -> None:
        """Log one interval; start/end are seconds relative to the start time."""
        # the writer falls back to the histogram's own stamps when start_s is 0.0
        histogram.set_start_time_stamp(start_s * 1000.0)
        histogram.set_end_time_stamp(end_s * 1000.0)
        self._writer.output_interval_histogram(
            histogram, start_s, end_s, max_value_unit_ratio=1000.0
        )
        self._file.flush()

    def close(self) -> None:
        self._file.close()


class WindowLogs:
    """Both logs of one load window, written interval by interval."""

    def __init__(self, out_dir: Path, start_epoch: float) -> None:
        out_dir.mkdir(parents=True, exist_ok=True)
        latency, service = out_dir / LATENCY_LOG, out_dir / SERVICE_LOG
        self.latency = IntervalLog(latency, start_epoch, "latency from intended send time")
        self.service = IntervalLog(service, start_epoch, "service time from actual send")
        self.start_s = 0.0

    def write(self, latency: HdrHistogram, service: HdrHistogram, end_s: float) -> None:
        """The interval from the last one's end to `end_s` seconds into the window."""
        self.latency.write(latency, self.start_s, end_s)
        self.service.write(service, self.start_s, end_s)
        self.start_s = end_s

    def close(self) -> None:
        self.latency.close()
        self.service.close()
