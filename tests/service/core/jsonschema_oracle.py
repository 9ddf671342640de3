"""The ``jsonschema`` library as a test-only oracle for the core's ``jsonschema-rs`` validation.

It judges with the rules the core documents: Draft 2020-12 without format checking, a tuple is
an array, and NaN and the infinities are not numbers (no JSON document holds them). Labels map
``jsonschema``'s failing keywords onto the same ``schema:*`` vocabulary, independently of the
core's mapping of ``jsonschema-rs`` error kinds (which keyword earns which label is the
product's rule, imported from the core).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from jsonschema.validators import extend

from service.core.schema import _KEYWORD_LABELS, _LABEL_PRIORITY

# The label vocabulary and which keyword earns which label are the product's rules, imported;
# the verdicts come from jsonschema alone.
LABEL_PRIORITY = _LABEL_PRIORITY


def _is_number(_checker: Any, instance: Any) -> bool:
    if isinstance(instance, bool) or not isinstance(instance, int | float):
        return False
    return not isinstance(instance, float) or math.isfinite(instance)


OracleValidator: Any = extend(
    Draft202012Validator,
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine_many(
        {
            "array": lambda _checker, instance: isinstance(instance, list | tuple),
            "number": _is_number,
        }
    ),
)


def oracle_label(schema: Mapping[str, Any], arguments: Any) -> str | None:
    """The most fundamental label of ``arguments``' errors under ``schema``; None when valid."""
    labels = {_label_for(error) for error in OracleValidator(dict(schema)).iter_errors(arguments)}
    return next((label for label in LABEL_PRIORITY if label in labels), None)


def _label_for(error: ValidationError) -> str:
    keyword = str(error.validator)
    if keyword in _KEYWORD_LABELS:
        return _KEYWORD_LABELS[keyword]
    if keyword in ("anyOf", "oneOf", "allOf") and error.context:
        labels = {_label_for(sub_error) for sub_error in _shallowest(error.context)}
        return next(label for label in reversed(LABEL_PRIORITY) if label in labels)
    return "schema:invalid_value"


def _shallowest(errors: Iterable[ValidationError]) -> list[ValidationError]:
    errors = list(errors)
    depth = min(len(error.relative_path) for error in errors)
    return [error for error in errors if len(error.relative_path) == depth]
