"""The CPU profile: handler share, layer shares and top functions from py-spy's collapsed stacks."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from veltrix_bench.models.profiles import CpuBlock, FunctionShare
from veltrix_bench.profile.folded import FoldedStack
from veltrix_bench.profile.frames import path_matches
from veltrix_bench.profile.handler import HandlerMatcher
from veltrix_bench.profile.layers import LAYERS, LayerRules

TOP_FUNCTIONS = 15

DENOMINATOR = (
    "Busy thread-samples: py-spy looked at each engine thread {rate} times a second during the "
    "load window and, run without --idle, kept a sample only when the OS showed that thread "
    "running or runnable (state R: on a CPU, or woken and queuing for a CPU or the GIL); "
    "samples of threads waiting on sockets, locks or sleeps are dropped. vbench's own "
    "memray-control thread is left out."
)
# vbench's own thread in the engine (WindowTracker._serve in memray_window.py) is not the
# engine's work.
_PROFILER_FILE = "veltrix_bench/profile/memray_window.py"
_PROFILER_THREAD_LOOP = "_serve"


@dataclass(frozen=True)
class CpuProfile:
    samples: int
    handler_samples: int
    layer_samples: dict[str, int]
    self_samples: dict[str, int]  # by `function (file)`
    total_samples: dict[str, int]
    handler_rule: str
    rate_hz: int
    window_s: float | None = None
    left_out_samples: int = 0
    under_memray: bool = False  # sampled while memray traced allocations: shares are distorted
    files: dict[str, str] = field(default_factory=dict)

    def summary_block(self) -> CpuBlock:
        def share(count: int) -> float:
            return round(count / self.samples, 4) if self.samples else 0.0

        def top(counts: dict[str, int]) -> list[FunctionShare]:
            ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
            return [FunctionShare(name, share(n)) for name, n in ranked[:TOP_FUNCTIONS]]

        top_self = top(self.self_samples)
        return CpuBlock(
            samples=self.samples,
            handler_share=share(self.handler_samples),
            denominator=DENOMINATOR.format(rate=self.rate_hz),
            top_self=top_self,
            top_total=top(self.total_samples),
            top=top_self,
            handler_rule=self.handler_rule,
            share_by_layer={layer: share(self.layer_samples[layer]) for layer in LAYERS},
            rate_hz=self.rate_hz,
            window_s=round(self.window_s, 3) if self.window_s else None,
            left_out_samples=self.left_out_samples,
            under_memray=self.under_memray,
            files=dict(self.files),
        )


def without_profiler_threads(stacks: list[FoldedStack]) -> tuple[list[FoldedStack], int]:
    """The stacks of the engine's own threads, and how many samples were vbench's."""
    kept = []
    left_out = 0
    for stack in stacks:
        if any(
            frame.function.rpartition(".")[2] == _PROFILER_THREAD_LOOP
            and path_matches(frame.file, _PROFILER_FILE)
            for frame in stack.frames
        ):
            left_out += stack.count
        else:
            kept.append(stack)
    return kept, left_out


def analyse_stacks(
    stacks: list[FoldedStack],
    handler: HandlerMatcher,
    rate_hz: int,
    window_s: float | None,
    left_out_samples: int = 0,
) -> CpuProfile:
    """A sample is in the handler when any of its frames is (time spent in what the handler
    calls counts); its layer is the innermost rule's (see layers.py)."""
    rules = LayerRules(handler)
    samples = handler_samples = 0
    layers: Counter[str] = Counter({layer: 0 for layer in LAYERS})
    self_samples: Counter[str] = Counter()
    total_samples: Counter[str] = Counter()
    for stack in stacks:
        count = stack.count
        samples += count
        if any(handler.matches(frame) for frame in stack.frames):
            handler_samples += count
        innermost_first = stack.frames[::-1]
        layers[rules.stack_layer(innermost_first)] += count
        if stack.frames:
            self_samples[stack.frames[-1].label] += count
        for label in {frame.label for frame in stack.frames}:  # recursion counts once
            total_samples[label] += count
    return CpuProfile(
        samples=samples,
        handler_samples=handler_samples,
        layer_samples=dict(layers),
        self_samples=dict(self_samples),
        total_samples=dict(total_samples),
        handler_rule=handler.description,
        rate_hz=rate_hz,
        window_s=window_s,
        left_out_samples=left_out_samples,
    )
