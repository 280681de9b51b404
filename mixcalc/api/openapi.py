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

from ..formulary import Formulary
from .routes import create_app

__all__ = ["REGENERATE", "formulary_schema", "render", "spec"]

REGENERATE = "python -m mixcalc.api.openapi"


def spec() -> dict[str, Any]:
    """The app's OpenAPI document (independent of the formulary's content)."""
    return create_app().openapi()


def formulary_schema() -> dict[str, Any]:
    """The JSON Schema of a formulary file (as TOML is read: strings for quantities)."""
    schema = Formulary.model_json_schema(by_alias=True, mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "mixcalc formulary"
    return schema


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = argparse.ArgumentParser(description=__doc__)
    args.add_argument("--check", action="store_true")
    options = args.parse_args(argv)
    stale = []
    for path, document in (
        (Path("openapi/openapi.json"), spec()),
        (Path("formulary/formulary.schema.json"), formulary_schema()),
    ):
        text = render(document)
        if not options.check:
            path.write_text(text, encoding="utf-8")
        elif not path.exists() or path.read_text(encoding="utf-8") != text:
            stale.append(str(path))
    if stale:
        print(f"{', '.join(stale)} out of date; regenerate with: {REGENERATE}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
