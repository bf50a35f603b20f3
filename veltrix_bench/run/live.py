"""The live view during a run: progress, achieved vs target rate, last-second latency, engine."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console, Group
from rich.live import Live
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from veltrix_bench.load.protocol import Tick
from veltrix_bench.run.monitor import EngineSample


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f} ms"


class LiveView:
    """A rich Live panel on a terminal; one plain line every few seconds elsewhere (CI logs).
    A transient view (one trial of a search that prints a line per trial) leaves nothing
    behind: no panel once it ends, and no plain lines at all."""

    PLAIN_EVERY_S = 5

    def __init__(
        self, console: Console, title: str, duration_s: float, transient: bool = False
    ) -> None:
        self.console = console
        self.transient = transient
        self.duration_s = duration_s
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TimeElapsedColumn(),
            TextColumn("left"),
            TimeRemainingColumn(),
            console=console,
        )
        self.task = self.progress.add_task(title, total=duration_s)
        self.figures = Table.grid(padding=(0, 2))
        self.live: Live | None = None
        self.saturation_warned = False
        self._status = "starting engine and load generator"

    def __enter__(self) -> LiveView:
        if self.console.is_terminal:
            self.live = Live(
                self._render(), console=self.console, refresh_per_second=4,
                transient=self.transient,
            )  # fmt: skip
            self.live.__enter__()
        elif not self.transient:
            self.console.print(f"vbench: {self._status}")
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self.live is not None:
            self.live.__exit__(kind, value, trace)

    def status(self, text: str) -> None:
        self._status = text
        if self.live is not None:
            self.live.update(self._render())
        elif not self.transient:
            self.console.print(f"vbench: {text}")

    def update(self, tick: Tick, engine: EngineSample | None, generator_behind: bool) -> None:
        self.progress.update(self.task, completed=min(tick.t, self.duration_s))
        self.figures = self._figures(tick, engine, generator_behind)
        if self.live is not None:
            self.live.update(self._render())
        elif not self.transient and int(tick.t) % self.PLAIN_EVERY_S == 0:
            self.console.print(self._plain(tick, engine), highlight=False)

    def _figures(self, tick: Tick, engine: EngineSample | None, behind: bool) -> Table:
        table = Table.grid(padding=(0, 3))
        table.add_column(style="dim")
        table.add_column(justify="right")
        table.add_column(style="dim")
        table.add_column(justify="right")
        rate = f"{tick.requests:,}/s"
        if tick.target_rate:
            rate += f" of {tick.target_rate:,.0f}/s"
        table.add_row("rate", rate, "in flight", f"{tick.in_flight:,}")
        table.add_row("p50 (last s)", _ms(tick.p50_ms), "p99 (last s)", _ms(tick.p99_ms))
        table.add_row("errors", f"{tick.errors:,}", "429s", f"{tick.rejected:,}")
        depth = (
            "-" if engine is None or engine.queue_depth is None else f"{engine.queue_depth:,.0f}"
        )
        rss = "-" if engine is None or engine.rss_mb is None else f"{engine.rss_mb:,.0f} MB"
        table.add_row("engine queue", depth, "engine RSS", rss)
        late = tick.late_cap + tick.late_generator
        if late:
            table.add_row(
                "late starts",
                f"{late:,}",
                "cause",
                f"cap {tick.late_cap}, gen {tick.late_generator}",
            )
        if behind:
            table.add_row("[bold red]GENERATOR SATURATED[/]", "", "figures are suspect", "")
        return table

    def _plain(self, tick: Tick, engine: EngineSample | None) -> str:
        depth = "-" if engine is None or engine.queue_depth is None else f"{engine.queue_depth:.0f}"
        return (
            f"  t={tick.t:>5.0f}s  {tick.requests:>6,} req/s  p50 {_ms(tick.p50_ms)}  "
            f"p99 {_ms(tick.p99_ms)}  errors {tick.errors}  429s {tick.rejected}  queue {depth}"
        )

    def _render(self) -> Group:
        return Group(f"[dim]{self._status}[/]", self.progress, self.figures)
