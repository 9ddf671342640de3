"""``toolgrade prepare`` on real-shaped xLAM rows: quirks kept, rejects counted, LLaMA-Factory
rules held by every output row, deterministic 90/10 split."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from service.core.rewards import resolve_label
from training.config import XLAM_HUB_ID, PrepareConfig
from training.errors import TrainingJobError
from training.prepare import (
    XlamRow,
    llamafactory_violation,
    prepare_dataset,
    read_source,
    validate_row,
)
from training.synth import SynthOptions, generate_rows, write_jsonl

FIXTURE = Path(__file__).resolve().parents[2] / "training" / "fixtures" / "xlam_sample.jsonl"
SYSTEM = "You call functions."


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(tiny_model_dir))


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory, tokenizer: Any) -> tuple[Path, Any]:
    out = tmp_path_factory.mktemp("prepared")
    config = PrepareConfig(source=str(FIXTURE), output_dir=out, system_prompt=SYSTEM)
    return out, prepare_dataset(config, tokenizer=tokenizer)


def all_rows(out: Path, folder: str, pattern: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for path in sorted((out / folder).glob(pattern)):
        rows += json.loads(path.read_text()) if path.suffix == ".json" else read_jsonl(path)
    return rows


def decoded(value: Any) -> Any:
    """A field that xLAM may store as a JSON string or already decoded."""
    return json.loads(value) if isinstance(value, str) else value


def declared_tool_names(rendered: str) -> list[str]:
    """Names of the tools a Qwen3 prompt lists inside its <tools> block."""
    block = rendered.split("<tools>\n", 1)[1].split("\n</tools>", 1)[0]
    return [json.loads(line)["function"]["name"] for line in block.splitlines()]


def fixture_rows() -> dict[str, dict[str, Any]]:
    return {str(row["id"]): row for row in read_jsonl(FIXTURE)[:12]}


def test_report_counts_every_row_by_reason(prepared: tuple[Path, Any]) -> None:
    out, report = prepared
    # 20 rows: 12 good (two with type-breaking values), 8 bad, one reason each (see the fixture).
    assert (report.read, report.kept) == (20, 12)
    assert dict(report.rejected) == {
        "prepare:invalid_json": 2,  # truncated tools; single-quoted answers
        "prepare:undeclared_tool": 1,
        "prepare:empty_query": 1,
        "prepare:missing_field": 1,
        "prepare:invalid_answers": 1,
        "prepare:invalid_tool_schema": 1,
        "prepare:duplicate_id": 1,
    }
    assert dict(report.flagged) == {"schema:type_mismatch": 2}
    assert report.flagged_rows == 2
    assert dict(report.categories) == {
        "simple": 8,
        "parallel": 1,
        "parallel_multiple": 2,
        "no_call": 1,
    }
    assert report.splits == {"train": 11, "eval": 1}
    saved = json.loads((out / "report.json").read_text())
    assert saved["rejected_total"] == 8 and saved["kept"] == 12
    rejected = read_jsonl(out / "rejected.jsonl")
    assert [(row["index"], row["reason"]) for row in rejected] == [
        (12, "prepare:invalid_json"),
        (13, "prepare:invalid_json"),
        (14, "prepare:undeclared_tool"),
        (15, "prepare:empty_query"),
        (16, "prepare:missing_field"),
        (17, "prepare:invalid_answers"),
        (18, "prepare:invalid_tool_schema"),
        (19, "prepare:duplicate_id"),
    ]
    assert rejected[2]["row"]["query"] == "What is the factorial of 5?"  # kept for inspection


def test_every_sharegpt_row_satisfies_llamafactory(prepared: tuple[Path, Any]) -> None:
    out, _ = prepared
    rows = all_rows(out, "llamafactory", "toolgrade_xlam_*.json")
    assert len(rows) == 12
    by_query = {row["query"]: row for row in fixture_rows().values()}
    for record in rows:
        assert llamafactory_violation(record) is None
        assert set(record) == {"conversations", "tools"}
        system, human, target = record["conversations"]
        assert system == {"from": "system", "value": SYSTEM}
        source = by_query[human["value"]]
        answers, tools = decoded(source["answers"]), decoded(source["tools"])
        if answers:
            assert target["from"] == "function_call"
            calls = json.loads(target["value"])
            calls = calls if isinstance(calls, list) else [calls]
            assert [call["name"] for call in calls] == [call["name"] for call in answers]
        else:
            assert target == {"from": "gpt", "value": source["response"]}
        functions = json.loads(record["tools"])
        assert [function["name"] for function in functions] == [tool["name"] for tool in tools]
        assert all(function["parameters"]["type"] == "object" for function in functions)
    info = json.loads((out / "llamafactory" / "dataset_info.json").read_text())
    assert info == {
        f"toolgrade_xlam_{split}": {
            "file_name": f"toolgrade_xlam_{split}.json",
            "formatting": "sharegpt",
            "columns": {"messages": "conversations", "tools": "tools"},
            "tags": {
                "role_tag": "from",
                "content_tag": "value",
                "user_tag": "human",
                "assistant_tag": "gpt",
                "observation_tag": "observation",
                "function_tag": "function_call",
                "system_tag": "system",
            },
        }
        for split in ("train", "eval")
    }


@pytest.mark.parametrize(
    ("turns", "problem"),
    [
        (["human", "human"], "turn 1 is 'human'"),
        (["system", "human", "gpt", "human"], "odd number of turns"),
        (["gpt", "human"], "turn 0 is 'gpt'"),
        (["human", "assistant"], "turn 1 is 'assistant'"),
        (["human", "function_call", "observation", "gpt"], None),
        (["system", "human", "function_call", "observation"], "odd number of turns"),
    ],
)
def test_llamafactory_checker_applies_the_alternation_rule(
    turns: list[str], problem: str | None
) -> None:
    call = '{"name": "f", "arguments": {}}'
    record = {
        "conversations": [
            {"from": role, "value": call if role == "function_call" else "text"} for role in turns
        ],
        "tools": "[]",
    }
    violation = llamafactory_violation(record)
    assert (violation is None) if problem is None else (problem in (violation or ""))


def test_checker_rejects_non_json_calls_and_tools() -> None:
    base = [{"from": "human", "value": "q"}]
    assert "not JSON" in (
        llamafactory_violation({"conversations": [*base, {"from": "function_call", "value": "f("}]})
        or ""
    )
    record = {"conversations": [*base, {"from": "gpt", "value": "a"}], "tools": [{"name": "f"}]}
    assert llamafactory_violation(record) == "tools must be a JSON string"


def test_xlam_quirks_pass_through(prepared: tuple[Path, Any]) -> None:
    out, _ = prepared
    trl = {row["id"]: row for row in all_rows(out, "trl", "*.jsonl")}
    grpo = {row["id"]: row for row in all_rows(out, "grpo", "*.jsonl")}

    # ", optional" and defaults stored as strings: optional, default kept verbatim.
    investment = json.loads(trl["1"]["tools"])[0]["function"]["parameters"]
    assert investment["required"] == ["present_value", "years"]
    assert investment["properties"]["compounding"]["default"] == "1"
    assert investment["properties"]["annual_interest_rate"]["default"] == "0.05"
    assert investment["properties"]["present_value"]["type"] == "number"

    # Answer values that break their declared type are kept as given, and flagged.
    assert trl["2"]["flags"] == ["schema:type_mismatch"]
    label = json.loads(grpo["2"]["label"])
    assert label["answers"] == [{"name": "split_bill", "arguments": {"total": 100, "people": 2.5}}]
    assert json.loads(grpo["3"]["label"])["answers"][0]["arguments"]["b"] == "math.pi"
    # The label keeps the row's tools in their original xLAM form (type strings and all).
    assert label["tools"][0]["parameters"]["people"]["type"] == "int"

    # Decoded (non-string) tools/answers and JSON-string arguments are accepted.
    assert json.loads(trl["8"]["messages"][-1]["tool_calls"][0]["function"]["arguments"]) == {
        "username": "nasa",
        "limit": 3,
    }
    assert json.loads(trl["10"]["messages"][-1]["tool_calls"][0]["function"]["arguments"]) == {
        "nested_list": [["a", "b"], ["c"]]
    }
    # Typing-syntax types map faithfully.
    average = json.loads(trl["4"]["tools"])[1]["function"]["parameters"]["properties"]["numbers"]
    assert average["type"] == "array"
    assert average["items"] == {"type": ["integer", "number"]}


def test_trl_rows_load_with_datasets_and_render_tool_calls(
    prepared: tuple[Path, Any], tokenizer: Any
) -> None:
    import datasets

    out, _ = prepared
    # Argument types differ from row to row; arguments as JSON strings keep one Arrow schema.
    train_file = str(out / "trl" / "train.jsonl")
    train = datasets.load_dataset("json", data_files=train_file, split="train")
    assert len(train) == 11
    by_id = {row["id"]: row for row in all_rows(out, "trl", "*.jsonl")}
    row = by_id["0"]
    assert [message["role"] for message in row["messages"]] == ["system", "user", "assistant"]
    assert row["category"] == "parallel"
    text = tokenizer.apply_chat_template(
        row["messages"], tools=json.loads(row["tools"]), tokenize=False
    )
    call = '<tool_call>\n{{"name": "{}", "arguments": {{"type": "{}"}}}}\n</tool_call>'
    name = "live_giveaways_by_type"
    assert call.format(name, "beta") + "\n" + call.format(name, "game") + "<|im_end|>" in text
    assert declared_tool_names(text) == [name]
    no_call = by_id["11"]["messages"][-1]
    assert no_call == {
        "role": "assistant",
        "content": "Why don't penguins fly? They can't afford plane tickets.",
    }


def test_grpo_prompts_are_rendered_with_each_rows_own_tools(
    prepared: tuple[Path, Any], tokenizer: Any
) -> None:
    out, _ = prepared
    rows = all_rows(out, "grpo", "*.jsonl")
    assert len(rows) == 12
    sources = fixture_rows()
    for row in rows:
        assert set(row) == {"id", "prompt", "label", "category", "flags"}
        assert isinstance(row["prompt"], str)
        source = sources[row["id"]]
        tools = decoded(source["tools"])
        assert declared_tool_names(row["prompt"]) == [tool["name"] for tool in tools]
        assert source["query"] in row["prompt"]
        assert row["prompt"].startswith(f"<|im_start|>system\n{SYSTEM}\n\n# Tools")
        assert row["prompt"].endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")
        # The label is what /reward understands: the core resolves it to reference + tools.
        reference, specs = resolve_label(row["label"])
        answers = decoded(source["answers"])
        assert [call.name for call in reference.calls] == [call["name"] for call in answers]
        assert sorted(specs) == sorted(tool["name"] for tool in tools)


def test_split_is_90_10_deterministic_and_seeded(tmp_path: Path, tokenizer: Any) -> None:
    source = tmp_path / "rows.jsonl"
    write_jsonl(generate_rows(SynthOptions(count=200, seed=1)), source)

    def run(out: str, seed: int) -> tuple[list[str], list[str]]:
        config = PrepareConfig(source=str(source), output_dir=tmp_path / out, seed=seed)
        report = prepare_dataset(config, tokenizer=tokenizer)
        assert report.splits == {"train": 180, "eval": 20}
        ids = [
            [row["id"] for row in read_jsonl(tmp_path / out / "splits" / f"{split}.jsonl")]
            for split in ("train", "eval")
        ]
        return ids[0], ids[1]

    train, eval_ = run("a", 42)
    assert set(train).isdisjoint(eval_) and len(set(train) | set(eval_)) == 200
    assert train == sorted(train, key=int)  # source order kept inside a split
    for name in ("trl/train.jsonl", "grpo/eval.jsonl", "llamafactory/toolgrade_xlam_eval.json"):
        first = (tmp_path / "a" / name).read_bytes()
        run("b", 42)
        assert (tmp_path / "b" / name).read_bytes() == first
    assert run("c", 7)[1] != eval_


def test_reject_flags_turn_flags_into_rejections(tmp_path: Path, tokenizer: Any) -> None:
    config = PrepareConfig(
        source=str(FIXTURE), output_dir=tmp_path, reject_flags=["schema:type_mismatch"]
    )
    report = prepare_dataset(config, tokenizer=tokenizer)
    assert report.kept == 10
    assert report.rejected["schema:type_mismatch"] == 2
    assert report.flagged_rows == 0


def test_parquet_and_json_array_sources(tmp_path: Path, tokenizer: Any) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    # Rows whose tools/answers are JSON strings, as the hub's parquet files hold them.
    rows = [row for row in read_jsonl(FIXTURE)[:12] if isinstance(row["tools"], str)]
    columns = {key: [row.get(key) for row in rows] for key in ("id", "query", "tools", "answers")}
    pq.write_table(pa.table(columns), tmp_path / "rows.parquet")
    (tmp_path / "rows.json").write_text(json.dumps(rows), encoding="utf-8")
    for name in ("rows.parquet", "rows.json"):
        out = tmp_path / name.replace(".", "_")
        config = PrepareConfig(source=str(tmp_path / name), output_dir=out)
        report = prepare_dataset(config, tokenizer=tokenizer)
        assert (report.read, report.kept) == (len(rows), len(rows))


def test_unparsable_line_is_counted_not_lost(tmp_path: Path, tokenizer: Any) -> None:
    source = tmp_path / "rows.jsonl"
    good = read_jsonl(FIXTURE)[0]
    source.write_text(json.dumps(good) + "\n{not json\n" + json.dumps({**good, "id": 99}) + "\n")
    config = PrepareConfig(source=str(source), output_dir=tmp_path / "out")
    report = prepare_dataset(config, tokenizer=tokenizer)
    assert (report.read, report.kept, dict(report.rejected)) == (3, 2, {"prepare:invalid_json": 1})
    (rejection,) = read_jsonl(tmp_path / "out" / "rejected.jsonl")
    assert rejection["detail"].startswith("line 2:")
    assert rejection["row"] == "{not json"


def test_max_rows_reads_only_the_first_rows() -> None:
    config = PrepareConfig(source=str(FIXTURE), max_rows=5)
    assert [row["id"] for row in read_source(config)] == [0, 1, 2, 3, 4]


def test_missing_local_file_and_no_usable_rows(tmp_path: Path, tokenizer: Any) -> None:
    with pytest.raises(TrainingJobError) as caught:
        list(read_source(PrepareConfig(source=str(tmp_path / "absent.jsonl"))))
    assert caught.value.label == "prepare:source_not_found"
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"query": ""}\n')
    with pytest.raises(TrainingJobError) as caught:
        prepare_dataset(PrepareConfig(source=str(bad), output_dir=tmp_path), tokenizer=tokenizer)
    assert caught.value.label == "prepare:no_rows"


def test_gated_hub_dataset_without_a_token_says_a_token_is_needed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No token anywhere: the job stops before any network call, with the fix in the message.
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    monkeypatch.setenv("HF_TOKEN_PATH", str(tmp_path / "token"))
    with pytest.raises(TrainingJobError) as caught:
        list(read_source(PrepareConfig(source=XLAM_HUB_ID)))
    assert caught.value.label == "prepare:hub_token_required"
    assert "HF_TOKEN" in caught.value.message
    assert f"https://huggingface.co/datasets/{XLAM_HUB_ID}" in caught.value.message


def test_validate_row_labels_malformed_parts() -> None:
    tool = {"name": "f", "parameters": {"x": {"type": "int"}}}
    base = {"query": "q", "tools": [tool], "answers": [{"name": "f", "arguments": {"x": 1}}]}
    assert isinstance(validate_row(base, 0), XlamRow)
    cases = {
        "prepare:not_an_object": ["a", "list"],
        "prepare:invalid_tools": {**base, "tools": {"name": "f"}},
        "prepare:duplicate_tool": {**base, "tools": [tool, tool]},
        "prepare:invalid_answers": {**base, "answers": [{"arguments": {}}]},
        "prepare:invalid_json": {**base, "answers": [{"name": "f", "arguments": "{x:"}]},
        "prepare:empty_query": {**base, "query": 42},
    }
    for reason, raw in cases.items():
        outcome = validate_row(raw, 0)
        assert not isinstance(outcome, XlamRow) and outcome.reason == reason, (reason, outcome)
    # "parameters" (ToolRL style) is read as "arguments"; missing required args are flagged.
    row = validate_row({**base, "answers": [{"name": "f", "parameters": {}}]}, 0)
    assert isinstance(row, XlamRow) and row.flags == ("schema:missing_required",)
