"""The layer an allocation or a CPU sample belongs to, from its stack: the rules, in one place.

Layers: `http` (the HTTP server library and the socket I/O under it), `handler` (the engine's
event handler), `storage` (SQLite and the engine's storage module, and the writer thread),
`other` (everything else: the event loop itself, metrics, start-up code, ...).

How a stack is attributed:
1. A thread rule first: everything the SQLite writer and checkpointer threads do is storage.
2. Then the frames from the innermost (where the allocation or the sample happened) outwards;
   the first frame that a frame rule claims decides. Frames no rule claims (the standard
   library's `json`, `asyncio.tasks`, `threading`, ...) are transparent: they take the layer
   of whoever called them. So `json.dumps` called by the handler is handler work, and
   `aiohttp`'s body reader called by the handler is HTTP work.
3. A stack no rule claims at all is `other`.
Within one frame the rules are tried in order: storage before handler, because the engine
counts its storage module as part of the handler while the layer split keeps it apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from veltrix_bench.profile.frames import Frame, path_matches
from veltrix_bench.profile.handler import HandlerMatcher

LAYERS = ("http", "handler", "storage", "other")

WRITER_THREAD_PREFIXES = ("veltrix-writer", "veltrix-checkpointer")

STORAGE_FILES = ("sqlite3/", "veltrix_bench/engine/storage.py")

HTTP_FILES = (
    "aiohttp/",
    "multidict/",
    "yarl/",
    "propcache/",
    "frozenlist/",
    "aiosignal/",
    "http/",  # the standard library's http package (status codes, cookies)
    "asyncio/streams.py",
    "asyncio/selector_events.py",
    "asyncio/transports.py",
    "asyncio/sslproto.py",
    "uvloop/",
)

# Engine code that is not the handler (routes for reads and metrics, the metrics module, ...):
# it stops the outward search, so `prometheus_client` called from it is not HTTP work.
OTHER_FILES = ("veltrix_bench/",)


@dataclass(frozen=True)
class LayerRules:
    handler: HandlerMatcher
    writer_thread_prefixes: tuple[str, ...] = WRITER_THREAD_PREFIXES
    storage_files: tuple[str, ...] = STORAGE_FILES
    http_files: tuple[str, ...] = HTTP_FILES
    other_files: tuple[str, ...] = OTHER_FILES

    def frame_layer(self, frame: Frame) -> str | None:
        """The layer this frame alone claims, or None when it is transparent."""
        if any(path_matches(frame.file, rule) for rule in self.storage_files):
            return "storage"
        if self.handler.matches(frame):
            return "handler"
        if any(path_matches(frame.file, rule) for rule in self.http_files):
            return "http"
        if any(path_matches(frame.file, rule) for rule in self.other_files):
            return "other"
        return None

    def stack_layer(self, innermost_first: Sequence[Frame], thread_name: str = "") -> str:
        if thread_name.startswith(self.writer_thread_prefixes):
            return "storage"
        for frame in innermost_first:
            layer = self.frame_layer(frame)
            if layer is not None:
                return layer
        return "other"
