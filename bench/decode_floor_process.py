"""The floor under any scorer of JSON-lines items: start, decode every line, write a line each.

The third side of ``python -m bench.score_throughput --whole-process``: a process that starts,
reads the same ``/score`` items file ``toolgrade score`` reads, decodes each line with orjson
(the fastest JSON decoder for Python) and writes one ``{"line": N}`` line per item, judging
nothing. No scorer that reads these files in one Python process can finish sooner; the ratio of
BFCL's checker process to this one is the most any such scorer can be faster than BFCL's.

Usage::

    python -m bench.decode_floor_process ITEMS.jsonl OUT.jsonl
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import orjson


def main(argv: Sequence[str] | None = None) -> int:
    source, target = argv if argv is not None else sys.argv[1:]
    with open(source, "rb") as lines, open(target, "wb") as out:
        for number, line in enumerate(lines, start=1):
            orjson.loads(line)
            out.write(b'{"line":%d}\n' % number)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
