"""JUnit XML: one test case per check of a gate or a conformance run, the why in each message."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from typing import TYPE_CHECKING, NamedTuple

from veltrix_bench.models.gate import GateResult

if TYPE_CHECKING:
    from veltrix_bench.contract.conformance import ConformanceResult


class Case(NamedTuple):
    kind: str  # the test case's class name: vbench.<kind>
    name: str
    passed: bool
    message: str  # the numbers or the reason, for people and for the failure text


def render(gate: GateResult) -> str:
    cases = [Case(check.kind, check.name, check.passed, check.message) for check in gate.checks]
    return render_cases("vbench gate", gate.source, cases)


def render_conformance(result: ConformanceResult) -> str:
    """A warning is a passed case whose output says what a run will lack."""
    cases = [
        Case(
            "conformance",
            check.name,
            check.verdict != "fail",
            f"{check.verdict}: {check.detail}" if check.detail else str(check.verdict),
        )
        for check in result.checks
    ]
    return render_cases("vbench check-target", result.target, cases)


def render_cases(suite_name: str, source: str, cases: Iterable[Case]) -> str:
    cases = list(cases)
    failures = sum(1 for case in cases if not case.passed)
    suite = ET.Element(
        "testsuite",
        name=suite_name,
        tests=str(len(cases)),
        failures=str(failures),
        errors="0",
        skipped="0",
    )
    ET.SubElement(ET.SubElement(suite, "properties"), "property", name="source", value=source)
    for case in cases:
        element = ET.SubElement(suite, "testcase", classname=f"vbench.{case.kind}", name=case.name)
        if case.passed:
            ET.SubElement(element, "system-out").text = case.message
        else:
            failure = ET.SubElement(element, "failure", message=case.message, type=case.kind)
            failure.text = case.message
    root = ET.Element("testsuites", tests=str(len(cases)), failures=str(failures))
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
