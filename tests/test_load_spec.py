"""The load spec's JSON round trip and rate lookup; the stdout protocol's round trip."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import GeneratorFactory, generator_output
from veltrix_bench.load.protocol import (
    Error,
    Final,
    LateStarts,
    Line,
    LoadWindow,
    Ready,
    RequestCounts,
    Tick,
    decode,
    encode,
)
from veltrix_bench.load.spec import ActionMix, LoadSpec, WorldShape
from veltrix_bench.models.latency import EMPTY, Latency


def make_spec(**changes: object) -> LoadSpec:
    values: dict[str, object] = dict(
        target="http://127.0.0.1:8080",
        model="open",
        stages=((10.0, 250.0), (5.0, 500.0)),
        users=10,
        wait_s=(0.0, 0.05),
        max_in_flight=4000,
        late_tolerance_s=0.01,
        drain_s=10.0,
        seed=1,
        world=WorldShape(4, 2000, 10, 5, 3),
        mix=ActionMix(30, 25, 5, 10, 15, 5),
        wrong_answer_rate=0.1,
        out_dir=Path("/tmp/run"),
        run_tag="r20240101",
    )
    values.update(changes)
    return LoadSpec(**values)  # type: ignore[arg-type]


def test_spec_survives_a_json_round_trip() -> None:
    spec = make_spec()
    assert LoadSpec.from_json(spec.to_json()) == spec


def test_target_rate_follows_the_stages_and_is_zero_after_the_window() -> None:
    spec = make_spec()
    assert spec.duration_s == 15.0
    assert spec.target_rate_at(0.0) == 250.0
    assert spec.target_rate_at(9.99) == 250.0
    assert spec.target_rate_at(10.0) == 500.0
    assert spec.target_rate_at(15.0) == 0.0


def test_closed_model_has_no_target_rate() -> None:
    assert make_spec(model="closed", stages=((5.0, 0.0),)).target_rate_at(1.0) is None


def test_every_protocol_line_decodes_to_what_was_encoded() -> None:
    summary = Latency(p50=1.0, p90=2.0, p95=3.0, p99=4.0, p999=5.0, max=6.0, mean=1.5)
    empty = EMPTY
    lines: list[Line] = [
        Ready(started_at=1.5, users=4000),
        Tick(
            t=3,
            requests=200,
            ok=198,
            errors=1,
            rejected=1,
            target_rate=200.0,
            in_flight=4,
            late_cap=0,
            late_generator=2,
            p50_ms=1.0,
            p90_ms=2.0,
            p99_ms=9.5,
            service_p50_ms=0.5,
            service_p99_ms=3.0,
        ),
        Final(
            interrupted=True,
            load_window=LoadWindow(1.0, 11.0),
            duration_s=10.0,
            requests=RequestCounts(10, 8, 1, 1),
            scheduled=12,
            started=11,
            late_starts=LateStarts(1, 0),
            acked_by_type={"join": 3},
            sent_by_type={"join": 4},
            wins_seen={"1:2": 1},
            drained=False,
            unanswered=1,
            locust_p99_ms=None,
            error_samples=["POST join: HTTP 500"],
            latency_ms=summary,
            service_time_ms=summary,
            start_delay_ms=empty,
            generator_cpu_share=0.25,
        ),
        Error(message="GET /v1/hunts/1 failed"),
    ]
    for line in lines:
        text = encode(line)
        assert "\n" not in text
        assert decode(text) == line
    assert encode(lines[0]).startswith('{"kind":"ready"')


# what the hand-written dataclass encoder wrote before the tagged union: the wire is unchanged
WIRE_BEFORE = (
    '{"kind":"final","interrupted":false,"load_window":{"start":1.0,"end":11.0},'
    '"duration_s":10.0,"requests":{"total":10,"ok":8,"errors":1,"rejected":1},"scheduled":12,'
    '"started":11,"late_starts":{"in_flight_cap":1,"generator":0},"acked_by_type":{"join":3},'
    '"sent_by_type":{"join":4},"wins_seen":{"1:2":1},"drained":true,"unanswered":0,'
    '"locust_p99_ms":4.0,"error_samples":["x"],'
    '"latency_ms":{"p50":1.0,"p90":2.0,"p95":3.0,"p99":4.0,"p999":5.0,"max":6.0,"mean":1.5},'
    '"service_time_ms":{"p50":1.0,"p90":2.0,"p95":3.0,"p99":4.0,"p999":5.0,"max":6.0,"mean":1.5},'
    '"start_delay_ms":{"p50":1.0,"p90":2.0,"p95":3.0,"p99":4.0,"p999":5.0,"max":6.0,"mean":1.5},'
    '"generator_cpu_share":0.25,"loop_lag_ms":{"p50":null,"p90":null,"p95":null,"p99":null,'
    '"p999":null,"max":null,"mean":null},"generator_peak_rss_mb":0.0,"processes":2,'
    '"workers":[{"name":"worker 0","requests":{"total":10,"ok":8,"errors":1,"rejected":1},'
    '"late_starts":{"in_flight_cap":1,"generator":0},"lost":null}],"lost_workers":[]}',
    '{"kind":"tick","t":1.0,"requests":5,"ok":5,"errors":0,"rejected":0,"target_rate":50.0,'
    '"in_flight":0,"late_cap":0,"late_generator":0,"p50_ms":1.0,"p90_ms":2.0,"p99_ms":3.0,'
    '"service_p50_ms":0.5,"service_p99_ms":0.9,"loop_lag_ms":null}',
    '{"kind":"error","message":"boom"}',
)


@pytest.mark.parametrize("text", WIRE_BEFORE)
def test_the_lines_on_the_wire_are_those_the_cli_read_before(text: str) -> None:
    assert encode(decode(text)) == text


def test_a_line_that_is_not_the_protocol_is_refused() -> None:
    for text in ("Traceback (most recent call last):", '{"kind": "nope"}', "[1, 2]"):
        with pytest.raises(ValueError):
            decode(text)


def test_a_bad_spec_file_is_reported_on_the_protocol_and_exits_1(
    generator_factory: GeneratorFactory,
) -> None:
    code, lines = generator_output(generator_factory("{}"), timeout=60)
    assert code == 1
    assert len(lines) == 1
    assert isinstance(lines[0], Error) and "cannot read load spec" in lines[0].message


def test_an_unreachable_target_is_an_error_line_and_exit_1(
    generator_factory: GeneratorFactory, tmp_path: Path
) -> None:
    # port 9 (discard) on loopback: nothing listens, the connection is refused at once
    spec = make_spec(target="http://127.0.0.1:9", out_dir=tmp_path)
    code, lines = generator_output(generator_factory(spec), timeout=60)
    assert code == 1
    assert len(lines) == 1 and isinstance(lines[0], Error)
    assert lines[0].message.startswith("GET http://127.0.0.1:9/v1/hunts/1 failed")
