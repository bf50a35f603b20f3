"""JUnit XML of a gate: one test case per check, the numbers in each failure's message."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from veltrix_bench.models.gate import GateResult


def render(gate: GateResult) -> str:
    failures = gate.failed
    suite = ET.Element(
        "testsuite",
        name="vbench gate",
        tests=str(len(gate.checks)),
        failures=str(failures),
        errors="0",
        skipped="0",
    )
    ET.SubElement(ET.SubElement(suite, "properties"), "property", name="source", value=gate.source)
    for check in gate.checks:
        case = ET.SubElement(suite, "testcase", classname=f"vbench.{check.kind}", name=check.name)
        if check.passed:
            ET.SubElement(case, "system-out").text = check.message
        else:
            failure = ET.SubElement(case, "failure", message=check.message, type=check.kind)
            failure.text = check.message
    root = ET.Element("testsuites", tests=str(len(gate.checks)), failures=str(failures))
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
