"""Where the handler and storage layers allocate, line by line, in a memory-profiled run.

Reads RUN_DIR/memray.bin (a `vbench run --profile memory` capture), attributes every
allocation to its layer with the same rules as the summary (`profile/layers.py`), and prints
the engine or sqlite3 lines that allocate most per acknowledged event.

    python -m benchmarks.alloc_by_line reports/<run-id> [--top 25]
"""

from __future__ import annotations

import collections
import json
from pathlib import Path

from memray import FileReader

from benchmarks.harness import script_parser
from veltrix_bench.profile.frames import Frame
from veltrix_bench.profile.handler import engine_handler
from veltrix_bench.profile.layers import LayerRules


def main() -> None:
    parser = script_parser(__file__, __doc__)
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    rules = LayerRules(engine_handler())
    layer_of: dict[tuple[int, int], tuple[str, str]] = {}
    by_line: collections.Counter[tuple[str, str]] = collections.Counter()
    by_layer: collections.Counter[str] = collections.Counter()
    for record in FileReader(args.run_dir / "memray.bin").get_allocation_records():
        key = (record.tid, record.stack_id)
        if key not in layer_of:
            stack = record.stack_trace()
            layer = rules.stack_layer([Frame(*frame) for frame in stack], record.thread_name)
            where = next(
                (f"{file.rsplit('site-packages/', 1)[-1]}:{function}:{line}"
                 for function, file, line in stack
                 if "veltrix_bench" in file or "sqlite3" in file),
                "(no engine frame)",
            )  # fmt: skip
            layer_of[key] = (layer, where)
        layer, where = layer_of[key]
        by_layer[layer] += record.n_allocations
        if layer in ("handler", "storage"):
            by_line[(layer, where)] += record.n_allocations
    summary = json.loads((args.run_dir / "summary.json").read_text())
    events = summary["engine"]["events_acked"] or 1
    print(f"{events:,} events; per event by layer:",
          {k: round(v / events, 1) for k, v in by_layer.items()})  # fmt: skip
    for (layer, where), count in by_line.most_common(args.top):
        print(f"{count / events:8.1f}  {layer:8} {where}")


if __name__ == "__main__":
    main()
