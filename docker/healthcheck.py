"""Container health check: exit 0 when the local ToolGrade answers 200 on a path.

Usage: ``python healthcheck.py [/ready|/health]`` (default ``/ready``). Standard library only,
so the same file serves every image. ``/ready`` is 200 once the engine is loaded, or at once in
scoring-only mode; ``/health`` is plain liveness. Neither needs the API key.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request


def main(argv: list[str]) -> int:
    path = argv[1] if len(argv) > 1 else "/ready"
    port = os.environ.get("TOOLGRADE_PORT", "8000")
    url = f"http://127.0.0.1:{port}{path}"
    try:
        with urllib.request.urlopen(url, timeout=4) as response:
            return 0 if response.status == 200 else 1
    except (urllib.error.URLError, OSError) as error:
        print(f"unhealthy: {url}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
