"""Strict, fast JSON decoding for model output.

``orjson`` handles the common case. Python's :mod:`json` is the fallback for what orjson
refuses but a model legitimately emits: raw control characters inside strings (``strict=False``;
constrained decoding can put a raw tab in a string), integers beyond 64 bits (orjson would turn
them into floats, so long digit runs go to :mod:`json` directly) and lone surrogates.

Both reject ``NaN``/``Infinity`` and numbers that overflow to infinity: they are not JSON, and a
non-finite float in a parsed call would later break strict JSON responses.
"""

from __future__ import annotations

import json
import math
from typing import Any, Final

import orjson

__all__ = ["NOT_JSON", "decode_json", "kept_bytes", "may_hold_a_long_integer"]

NOT_JSON: Final[Any] = object()
"""Returned by :func:`decode_json` for text that is not exactly one JSON value."""

# orjson decodes integers outside [-2**63, 2**64) to floats; such an integer has at least 19
# digits. Mapping every digit to "0" and every other byte to " " (bytes.translate) and searching
# for nineteen "0"s is ~10x cheaper than the equivalent regex ``[0-9]{19}``, whose per-position
# scan costs ~20 µs on a 2 KB line.
_DIGIT_MASK: Final = bytes(0x30 if 0x30 <= byte <= 0x39 else 0x20 for byte in range(256))
_NINETEEN_DIGITS: Final = b"0" * 19


def may_hold_a_long_integer(text: str | bytes) -> bool:
    """Whether ``text`` has a run of 19 digits, so orjson might turn an integer into a float.

    Example:
        >>> may_hold_a_long_integer('{"id": 12345}')
        False
        >>> may_hold_a_long_integer(b"[2" + b"0" * 20 + b"]")
        True
    """
    encoded = text if isinstance(text, bytes) else text.encode("utf-8", errors="surrogatepass")
    return _NINETEEN_DIGITS in encoded.translate(_DIGIT_MASK)


def kept_bytes(data: bytes) -> bytes:
    """A copy of ``data`` that holds only its own length, for bytes a cache keeps.

    ``orjson.dumps`` returns its working buffer: a 60-byte result still holds ~4 KiB. Kept as
    cache keys (thousands of canonical schemas), those buffers were most of what the caches
    weigh; the copy costs a fraction of a microsecond, paid only when an entry is stored.

    Example:
        >>> kept_bytes(orjson.dumps({"type": "string"}))
        b'{"type":"string"}'
    """
    return bytes(memoryview(data))


def _reject_constant(token: str) -> Any:
    raise ValueError(f"{token} is not JSON")


def _finite_float(token: str) -> float:
    number = float(token)
    if not math.isfinite(number):
        raise ValueError(f"{token} overflows a double")
    return number


_lenient_decoder: Final = json.JSONDecoder(
    strict=False, parse_constant=_reject_constant, parse_float=_finite_float
)


def decode_json(text: str) -> Any:
    """Decode ``text`` as one JSON value, or return :data:`NOT_JSON`. Never raises.

    Example:
        >>> decode_json('{"a": [1, 2.5, "x\\ty"]}')
        {'a': [1, 2.5, 'x\\ty']}
        >>> decode_json("NaN") is NOT_JSON, decode_json("[1,") is NOT_JSON
        (True, True)
        >>> decode_json("123456789012345678901234567890")
        123456789012345678901234567890
    """
    if not may_hold_a_long_integer(text):
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
    try:
        return _lenient_decoder.decode(text)
    # ValueError: not JSON, or an integer past Python's digit limit; RecursionError: nesting.
    except (ValueError, RecursionError, MemoryError):
        return NOT_JSON
