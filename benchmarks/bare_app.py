"""The bare FastAPI app the service is measured against: the same route, bodies of the
same shape and size in and out, and no computation.

It parses the JSON body into a dict (as any FastAPI JSON endpoint does) and answers a
canned mixcalc answer for the typical request, read once at start from the file named by
``MIXCALC_BARE_ANSWER`` (the harness writes it).  It imports nothing of mixcalc, so its
cold start is FastAPI's own.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from fastapi import Body, FastAPI

app = FastAPI(title="bare")
_ANSWER: dict[str, Any] = json.loads(Path(os.environ["MIXCALC_BARE_ANSWER"]).read_text(encoding="utf-8"))


@app.post("/v1/mixtures")
async def post_mixture(body: dict[str, Any] = Body(...)) -> dict[str, Any]:  # noqa: B008 (FastAPI's idiom)
    return _ANSWER
