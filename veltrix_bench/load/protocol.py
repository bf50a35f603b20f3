"""The generator's stdout protocol: one JSON object per line, a tagged union both sides share.

The generator writes `encode(line)`; the CLI reads each stdout line with `decode(text)`,
which validates it against the union in one step (msgspec; `kind` names the line).
No gevent here: the CLI imports this module.
"""

from __future__ import annotations

import msgspec

from veltrix_bench.models.generator import (
    GeneratorReport,
    LateStarts,
    LoadWindow,
    RequestCounts,
    WorkerShare,
)

__all__ = [
    "Error", "Final", "LateStarts", "Line", "LoadWindow", "Ready", "RequestCounts", "Tick",
    "WorkerShare", "decode", "encode",
]  # fmt: skip


class Ready(msgspec.Struct, frozen=True, tag_field="kind", tag="ready"):
    """The load window started (users spawned)."""

    started_at: float
    users: int


class Tick(msgspec.Struct, frozen=True, tag_field="kind", tag="tick"):
    """One second of the load window; counts are within that second, percentiles of it.

    `t` is seconds since the window start at the end of the interval (1, 2, ...; the last
    tick after the drain may cover a partial second and carry a fractional t).
    Percentiles are None when the second saw no completed request. `late_cap` and
    `late_generator` count the starts sent in that second that were late, by cause
    (counted when the request finally goes out, so a second in which the cap blocks
    every start shows none: compare `requests` with `target_rate`).
    """

    t: float
    requests: int
    ok: int
    errors: int
    rejected: int
    target_rate: float | None
    in_flight: int
    late_cap: int
    late_generator: int
    p50_ms: float | None
    p90_ms: float | None
    p99_ms: float | None
    service_p50_ms: float | None
    service_p99_ms: float | None
    loop_lag_ms: float | None = None
    """Worst lag of the generator's event loop in that second (a canary greenlet's
    oversleep); tens of ms mean the generator, not the target, is the bottleneck."""


class Final(GeneratorReport, frozen=True, tag_field="kind", tag="final"):
    """The last line: what the generator did and saw (the run record keeps it as the
    GeneratorReport it is, without the tag). What the fields mean:

    - `scheduled`: open model, the intended times that fell inside the (possibly
      interrupted) window; closed model, equal to `started`.
    - `acked_by_type`: event results received in 200 answers (any status), per event type;
      `sent_by_type`: requests sent per action (the five event types, 'leaderboard' and
      'player'); `wins_seen`: 'won' results per '<hunt>:<treasure>' (never above 1).
      All three empty for a custom locustfile.
    - `locust_p99_ms`: p99 of Locust's own statistics (rounded as Locust rounds): requests
      of a custom locustfile's users only; vbench's own players record straight into
      vbench's histograms.
    - `start_delay_ms`: open model, how much later than intended requests were sent. Even
      an idle generator shows ~0.5-1 ms here (gevent timers wake on epoll's 1 ms grain);
      this delay is part of every intended-time latency.
    - `generator_cpu_share`: process CPU time / wall time from the window's start to the
      end (distributed: of the busiest worker); near 1.0 means saturated.
    - `loop_lag_ms`: the event loop's lag, sampled every 20 ms during the window.
    - `generator_peak_rss_mb`: peak RSS of the generator process (distributed: of the
      largest worker).
    - `processes`: generator processes that made the load: 1 (local runner) or the
      workers' count; `workers`: distributed runs, each worker's share (the totals are
      their exact sums); `lost_workers`: workers that died or stopped reporting mid-run,
      by name and why.
    """


class Error(msgspec.Struct, frozen=True, tag_field="kind", tag="error"):
    """A fatal problem; the generator exits 1 after it."""

    message: str


Line = Ready | Tick | Final | Error

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Line)


def encode(line: Line) -> str:
    return _encoder.encode(line).decode()


def decode(text: str | bytes) -> Line:
    """One stdout line back into its type; ValueError if it is not a protocol line."""
    try:
        return _decoder.decode(text)
    except msgspec.DecodeError as exc:
        raise ValueError(f"not a protocol line ({exc}): {text[:80]!r}") from None
