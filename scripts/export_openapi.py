"""Write the API's OpenAPI document to openapi.json at the repository root.

    .venv/bin/python scripts/export_openapi.py            # write openapi.json
    .venv/bin/python scripts/export_openapi.py --check    # exit 1 if it is stale

The document is built from the app itself (api.app.openapi_document), on an
in-memory SQLite database that is never opened. tests/api/test_openapi_document.py
fails when the committed file differs from what the code describes, so re-run this
after changing the API.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from api.app import openapi_document  # noqa: E402  (after the path is set)

OUTPUT = ROOT / "openapi.json"


def render(document: dict[str, Any]) -> str:
    """Stable text: sorted keys (as the app serves them), two-space indent."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 if stale")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="default: openapi.json")
    args = parser.parse_args(argv)
    text = render(openapi_document())
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is stale: run scripts/export_openapi.py", file=sys.stderr)
            return 1
        print(f"{args.output} is current")
        return 0
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
