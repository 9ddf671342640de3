"""``toolgrade audit`` through typer's CliRunner on synthetic rows."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from service.cli import app
from training.synth import SynthOptions, generate_rows


def test_audit_writes_the_report_and_the_heat_map(tmp_path: Path) -> None:
    rows = generate_rows(SynthOptions(count=12, seed=3))
    source = tmp_path / "rows.jsonl"
    source.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")

    result = CliRunner().invoke(
        app, ["audit", "--input", str(source), "--output-dir", str(tmp_path / "out")]
    )

    assert result.exit_code == 0, result.output
    assert "hack ceiling" in result.output
    assert "wrong_value" in result.output
    report = json.loads((tmp_path / "out" / "audit.json").read_text(encoding="utf-8"))
    assert report["items"] == 12
    assert report["violations"] == 0
    assert [p["profile"] for p in report["profiles"]] == ["weighted", "strict", "toolrl"]
    assert (tmp_path / "out" / "audit.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_audit_one_profile_with_weights_and_bad_input(tmp_path: Path) -> None:
    source = tmp_path / "items.jsonl"
    tools = [{"name": "f", "parameters": {"x": {"type": "int"}}}]
    source.write_text(
        json.dumps({"reference": [{"name": "f", "arguments": {"x": 1}}], "tools": tools}) + "\n",
        encoding="utf-8",
    )
    runner = CliRunner()

    ok = runner.invoke(
        app,
        [
            "audit",
            "-i",
            str(source),
            "--profile",
            "seed",
            "--weights",
            '{"semantic": 3, "exec": 1}',
            "-o",
            str(tmp_path),
        ],
    )
    bad_weights = runner.invoke(app, ["audit", "-i", str(source), "--weights", '{"exec": -1}'])
    missing = runner.invoke(app, ["audit", "-i", str(tmp_path / "nope.jsonl")])

    assert ok.exit_code == 0, ok.output
    report = json.loads((tmp_path / "audit.json").read_text(encoding="utf-8"))
    assert [p["profile"] for p in report["profiles"]] == ["weighted"]
    assert report["profiles"][0]["weights"]["semantic"] == 0.75
    assert bad_weights.exit_code == 2
    assert "weights:negative" in bad_weights.output
    assert missing.exit_code == 2
