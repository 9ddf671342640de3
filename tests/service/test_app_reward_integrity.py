"""Reward integrity over real HTTP: odd schemas and weights never get a 500, and ``/audit``.

The sweep sends generated tool schemas (dangling and recursive ``$ref``, wrong types, odd
``required`` lists) and weights (overflowing, negative, non-numbers, huge integers, ``1e999``
in the raw body) through ``/score`` and ``/reward`` on the real server: every answer is a 200
with finite rewards in [0, 1] or a 4xx in OpenAI's envelope with an ``area:reason`` code.
"""

from __future__ import annotations

import json
import math
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.core.audit import audit_rewards
from tests.fixtures.servers import LiveServer

GOOD_TOOL = {
    "name": "get_weather",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}
REFERENCE = [{"name": "get_weather", "arguments": {"city": "Paris"}}]
COMPLETION = '<tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>'

odd_parameter_schemas = st.sampled_from(
    [
        {"$ref": "#/definitions/missing"},
        {"$ref": "#/$defs/City"},
        {"$ref": "http://example.com/remote.json"},
        {"type": "strng"},
        {"type": ["string", 5]},
        {"type": "string", "enum": []},
        {"type": "array", "items": {"$ref": "#"}},
        {"type": "object", "properties": {"x": {"$ref": "#/properties/city"}}},
        {"anyOf": []},
        {"pattern": "(unclosed"},
        {"minimum": "zero"},
        {"type": "integer", "maximum": 1e308},
        True,
        False,
        None,
        "string",
        [],
    ]
)
odd_tools = st.builds(
    lambda schema, required, extra: {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"city": schema},
            "required": required,
            **extra,
        },
    },
    odd_parameter_schemas,
    st.sampled_from([["city"], [], ["nope"], "city", [5]]),
    st.sampled_from(
        [{}, {"$defs": {"City": {"type": "string"}}}, {"additionalProperties": "maybe"}]
    ),
)
odd_weights = st.one_of(
    st.none(),
    st.sampled_from(
        [
            {"exec": 1e308, "semantic": 1e308},
            {"exec": 1.7e308, "json_parse": 1.7e308, "semantic": 1.7e308},
            {"exec": -1},
            {"exec": "1"},
            {"exec": True},
            {"exec": [1]},
            {"exec": 0},
            {"format": 1},
            {"exec": 10**400},
            {"exec": 5e-324},
            [],
            "weights",
        ]
    ),
)


def assert_labelled_answer(response: httpx.Response) -> dict[str, Any] | None:
    """A 200 (returned decoded) or a 4xx with an ``area:reason`` code; never a 5xx."""
    assert response.status_code < 500, response.text
    payload = response.json()
    if response.status_code == 200:
        return dict(payload)
    assert 400 <= response.status_code < 500
    code = payload["error"]["code"]
    assert isinstance(code, str) and ":" in code, payload
    return None


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(tool=odd_tools, weights=odd_weights, profile=st.sampled_from(["weighted", "toolrl"]))
def test_odd_schemas_and_weights_never_get_a_500(
    scoring_server: LiveServer, tool: Any, weights: Any, profile: str
) -> None:
    reward_body: dict[str, Any] = {
        "completions": [COMPLETION, '{"name": "get_weather", "arguments": {"city": 5}}'],
        "labels": [REFERENCE, REFERENCE],
        "tools": [tool],
        "profile": profile,
    }
    if weights is not None:
        reward_body["weights"] = weights
    answer = assert_labelled_answer(
        httpx.post(f"{scoring_server.base_url}/reward", json=reward_body, timeout=30)
    )
    if answer is not None:
        for value in [*answer["rewards"], *(v for vs in answer["extra_logs"].values() for v in vs)]:
            assert math.isfinite(value) and 0.0 <= value <= 1.0
    score_body = {
        "items": [{"prediction": COMPLETION, "reference": REFERENCE, "tools": [tool]}],
        "bootstrap_samples": 0,
    }
    assert_labelled_answer(
        httpx.post(f"{scoring_server.base_url}/score", json=score_body, timeout=30)
    )


@pytest.mark.parametrize("number", [b"1e999", b"-1e999", b"1" + b"0" * 400])
def test_overflowing_numbers_in_the_raw_body_are_client_errors(
    scoring_server: LiveServer, number: bytes
) -> None:
    body = b'{"completions": ["x"], "labels": [[]], "weights": {"exec": ' + number + b"}}"
    response = httpx.post(
        f"{scoring_server.base_url}/reward",
        content=body,
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert_labelled_answer(response)
    assert response.status_code == 400


def test_dangling_ref_in_a_tool_schema_is_a_labelled_400(scoring_server: LiveServer) -> None:
    tool = {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"$ref": "#/nowhere"}}},
    }
    response = httpx.post(
        f"{scoring_server.base_url}/reward",
        json={"completions": [COMPLETION], "labels": [REFERENCE], "tools": [tool]},
        timeout=30,
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "schema:invalid_json_schema"


def test_overflowing_weights_are_weights_non_finite(scoring_server: LiveServer) -> None:
    response = httpx.post(
        f"{scoring_server.base_url}/reward",
        json={
            "completions": [COMPLETION],
            "labels": [REFERENCE],
            "tools": [GOOD_TOOL],
            "weights": {"exec": 1e308, "semantic": 1e308},
        },
        timeout=30,
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "weights:non_finite"


def test_string_match_is_a_request_option(scoring_server: LiveServer) -> None:
    body = {
        "completions": ['{"name": "get_weather", "arguments": {"city": "PARIS"}}'],
        "labels": [REFERENCE],
        "tools": [GOOD_TOOL],
        "profile": "strict",
    }
    url = f"{scoring_server.base_url}/reward"
    assert httpx.post(url, json=body, timeout=30).json()["rewards"] == [0.0]
    lenient = httpx.post(url, json={**body, "string_match": "bfcl"}, timeout=30)
    assert lenient.json()["rewards"] == [1.0]
    seed = httpx.post(url, json={**body, "profile": "seed", "string_match": "bfcl"}, timeout=30)
    assert seed.json()["rewards"] == [1.0]


ITEMS = [
    {"id": "one", "reference": REFERENCE, "tools": [GOOD_TOOL]},
    {
        "id": "bfcl",
        "reference": [{"get_weather": {"city": ["Paris", "paris"]}}],
        "tools": [GOOD_TOOL],
    },
    {
        "id": "grpo-row",
        "label": json.dumps({"reference": REFERENCE, "tools": [GOOD_TOOL]}),
    },
    {"id": "no-call", "reference": [], "tools": [GOOD_TOOL]},
    {"id": "broken", "reference": [{"oops": 1, "two": 2}], "tools": [GOOD_TOOL]},
]


def test_audit_endpoint_returns_the_cores_report(scoring_server: LiveServer) -> None:
    response = httpx.post(f"{scoring_server.base_url}/audit", json={"items": ITEMS}, timeout=60)

    assert response.status_code == 200, response.text
    report = response.json()
    assert report == audit_rewards(ITEMS).to_dict()
    assert report["items"] == 4
    assert [skipped["item"] for skipped in report["skipped"]] == ["broken"]
    assert report["violations"] == 0
    ceilings = {profile["profile"]: profile["hack_ceiling"] for profile in report["profiles"]}
    assert ceilings["strict"] == 0.0
    assert ceilings["weighted"] == pytest.approx(0.75)
    assert ceilings["toolrl"] == pytest.approx(5 / 7)


def test_audit_endpoint_one_profile_and_bad_weights(scoring_server: LiveServer) -> None:
    url = f"{scoring_server.base_url}/audit"
    one = httpx.post(url, json={"items": ITEMS[:1], "profile": "seed"}, timeout=60).json()
    assert [profile["profile"] for profile in one["profiles"]] == ["weighted"]
    bad = httpx.post(url, json={"items": ITEMS[:1], "weights": {"exec": -1}}, timeout=60)
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "weights:negative"
