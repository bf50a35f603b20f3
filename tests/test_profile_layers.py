"""Layer attribution and handler matching on synthetic stacks (no profiler involved)."""

from __future__ import annotations

import pytest

from veltrix_bench.errors import ConfigError
from veltrix_bench.profile.frames import Frame, path_matches, short_path
from veltrix_bench.profile.handler import HandlerMatcher, engine_handler
from veltrix_bench.profile.layers import LayerRules

SITE = "/venv/lib/python3.11/site-packages"
STDLIB = "/usr/lib/python3.11"
ENGINE = "/work/main/veltrix_bench/engine"


def stack(*frames: tuple[str, str]) -> list[Frame]:
    """Innermost first, as memray gives them: ("function", "path")."""
    return [Frame(function, path) for function, path in frames]


@pytest.fixture
def rules() -> LayerRules:
    return LayerRules(engine_handler())


def test_json_decoding_called_by_the_handler_is_handler_work(rules: LayerRules) -> None:
    frames = stack(
        ("decode", f"{STDLIB}/json/decoder.py"),
        ("loads", f"{STDLIB}/json/__init__.py"),
        ("decode_events", f"{ENGINE}/events.py"),
        ("Engine._post_events", f"{ENGINE}/server.py"),
        ("Engine.post_events", f"{ENGINE}/server.py"),
        ("Application._handle", f"{SITE}/aiohttp/web_app.py"),
    )
    assert rules.stack_layer(frames) == "handler"


def test_the_body_reader_called_by_the_handler_is_http_work(rules: LayerRules) -> None:
    frames = stack(
        ("StreamReader.read", f"{SITE}/aiohttp/streams.py"),
        ("BaseRequest.read", f"{SITE}/aiohttp/web_request.py"),
        ("Engine._post_events", f"{ENGINE}/server.py"),
    )
    assert rules.stack_layer(frames) == "http"


def test_socket_reads_of_the_event_loop_are_http_work(rules: LayerRules) -> None:
    frames = stack(
        (
            "_SelectorSocketTransport._read_ready__data_received",
            f"{STDLIB}/asyncio/selector_events.py",
        ),
        ("Handle._run", f"{STDLIB}/asyncio/events.py"),
        ("BaseEventLoop._run_once", f"{STDLIB}/asyncio/base_events.py"),
    )
    assert rules.stack_layer(frames) == "http"


def test_storage_module_is_storage_although_the_handler_list_names_it(rules: LayerRules) -> None:
    frames = stack(
        ("Store._write_each", f"{ENGINE}/storage.py"),
        ("_WorkItem.run", f"{STDLIB}/concurrent/futures/thread.py"),
    )
    assert rules.frame_layer(frames[0]) == "storage"
    assert rules.stack_layer(frames) == "storage"


def test_a_commit_on_the_event_loop_is_storage_although_the_handler_called_it(
    rules: LayerRules,
) -> None:
    # storage.writer = "loop": the consumer commits on the main thread, inside the pipeline
    frames = stack(
        ("Connection.executemany", f"{STDLIB}/sqlite3/dbapi2.py"),
        ("Store._write_group", f"{ENGINE}/storage.py"),
        ("Store.write", f"{ENGINE}/storage.py"),
        ("Pipeline._on_writer", f"{ENGINE}/pipeline.py"),
        ("Pipeline._process", f"{ENGINE}/pipeline.py"),
        ("Pipeline._consume", f"{ENGINE}/pipeline.py"),
        ("Handle._run", f"{STDLIB}/asyncio/events.py"),
    )
    assert rules.stack_layer(frames, thread_name="MainThread") == "storage"


def test_everything_on_the_writer_thread_is_storage(rules: LayerRules) -> None:
    frames = stack(("_worker", f"{STDLIB}/concurrent/futures/thread.py"))
    assert rules.stack_layer(frames, thread_name="veltrix-writer_0") == "storage"
    assert rules.stack_layer(frames, thread_name="MainThread") == "other"


def test_engine_code_outside_the_handler_stops_the_search(rules: LayerRules) -> None:
    # /metrics: prometheus_client under the engine's metrics module, under aiohttp.
    frames = stack(
        ("generate_latest", f"{SITE}/prometheus_client/exposition.py"),
        ("EngineMetrics.exposition", f"{ENGINE}/metrics.py"),
        ("Engine.get_metrics", f"{ENGINE}/server.py"),
        ("Application._handle", f"{SITE}/aiohttp/web_app.py"),
    )
    assert rules.stack_layer(frames) == "other"


def test_event_loop_internals_and_empty_stacks_are_other(rules: LayerRules) -> None:
    frames = stack(
        ("BaseEventLoop._run_once", f"{STDLIB}/asyncio/base_events.py"),
        ("BaseEventLoop.run_forever", f"{STDLIB}/asyncio/base_events.py"),
    )
    assert rules.stack_layer(frames) == "other"
    assert rules.stack_layer([]) == "other"


def test_handler_spec_with_a_function_matches_only_that_function() -> None:
    matcher = HandlerMatcher.from_specs(("veltrix_bench/engine/server.py:_post_events",), "test")
    assert matcher.matches(Frame("Engine._post_events", f"{ENGINE}/server.py"))
    assert matcher.matches(Frame("_post_events", "veltrix_bench/engine/server.py"))  # py-spy
    assert not matcher.matches(Frame("Engine.post_events", f"{ENGINE}/server.py"))
    assert not matcher.matches(Frame("_post_events", "/elsewhere/server.py"))


def test_handler_regex_matches_function_and_short_file() -> None:
    matcher = HandlerMatcher.from_regex(r"^handle_\w+ \(myengine/")
    assert matcher.matches(Frame("handle_join", f"{SITE}/myengine/api.py"))
    assert not matcher.matches(Frame("handle_join", f"{SITE}/other/api.py"))


def test_invalid_handler_regex_is_a_usage_error() -> None:
    with pytest.raises(ConfigError, match="not a valid regular expression"):
        HandlerMatcher.from_regex("([")


def test_path_rules_match_whole_components() -> None:
    assert path_matches(f"{SITE}/yarl/_url.py", "yarl/")
    assert not path_matches("/work/notyarl/x.py", "yarl/")
    assert path_matches("asyncio/streams.py", "asyncio/streams.py")
    assert not path_matches("myasyncio/streams.py", "asyncio/streams.py")


def test_short_paths_read_like_pyspy_ones() -> None:
    assert short_path(f"{SITE}/aiohttp/web_protocol.py") == "aiohttp/web_protocol.py"
    assert short_path(f"{STDLIB}/asyncio/streams.py") == "asyncio/streams.py"
    assert short_path(f"{ENGINE}/server.py") == "veltrix_bench/engine/server.py"


def test_pyspy_frames_parse_with_and_without_line_numbers() -> None:
    assert Frame.from_pyspy("Engine._post_events (veltrix_bench/engine/server.py:95)") == Frame(
        "Engine._post_events", "veltrix_bench/engine/server.py", 95
    )
    assert Frame.from_pyspy("<module> (run.py)") == Frame("<module>", "run.py")
    assert Frame.from_pyspy("weird frame") == Frame("weird frame", "")
