"""Write or check the committed OpenAPI document.

python -m mixcalc.api.openapi            # rewrite openapi/openapi.json
python -m mixcalc.api.openapi --check    # exit 1 if it differs from the app
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .routes import create_app

__all__ = ["REGENERATE", "render", "spec"]

REGENERATE = "python -m mixcalc.api.openapi"


def spec() -> dict[str, Any]:
    """The app's OpenAPI document (independent of the formulary's content)."""
    return create_app().openapi()


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = argparse.ArgumentParser(description=__doc__)
    args.add_argument("--check", action="store_true")
    args.add_argument("--path", default="openapi/openapi.json")
    options = args.parse_args(argv)
    path = Path(options.path)
    text = render(spec())
    if options.check:
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            print(f"{path} is out of date; regenerate it with: {REGENERATE}", file=sys.stderr)
            return 1
        return 0
    path.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
