"""BFCL's checker as a process of its own: read candidates in BFCL's form, judge, write verdicts.

The counterpart of ``toolgrade score`` in ``python -m bench.score_throughput --whole-process``:
it starts, reads a JSON-lines file in BFCL's own shapes (``function``, ``model_output``,
``possible_answer``, ``category`` per line), runs BFCL's ``ast_checker`` on each and writes one
``{"id", "valid"}`` line per candidate. A checker exception counts as invalid, as in the
in-process bench.

Usage::

    python -m bench.bfcl_checker_process CANDIDATES.jsonl VERDICTS.jsonl
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence

from bench.bfcl_candidates import BfclCandidate, BfclItem, bfcl_checker


def main(argv: Sequence[str] | None = None) -> int:
    source, target = argv if argv is not None else sys.argv[1:]
    check = bfcl_checker()
    with open(source, encoding="utf-8") as lines, open(target, "w", encoding="utf-8") as out:
        for line in lines:
            entry = json.loads(line)
            item = BfclItem(
                item_id=entry["id"],
                category=entry["category"],
                functions=entry["function"],
                possible_answer=entry["possible_answer"],
            )
            candidate = BfclCandidate(item, "", [], entry["model_output"])
            try:
                valid = check(candidate)
            except Exception:  # BFCL's checker raises on some malformed outputs
                valid = False
            out.write(json.dumps({"id": entry["id"], "valid": valid}) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
