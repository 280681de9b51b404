"""What the CDS Hooks service is, without its machinery: the service ids and the hooks they
answer, and the length limit of a card's summary (CDS Hooks 2.0).

The routes (:mod:`mixcalc.api.cds`) are declared from these at start-up; the modules that
read orders and the chart and write the cards are imported at the first call, so that a
service that is never asked a CDS question does not start slower for them.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["HOOKS", "SUMMARY_LIMIT"]

#: Service id -> the hook it answers.
HOOKS: Mapping[str, str] = {"mixcalc-tpi-order-select": "order-select", "mixcalc-tpi-order-sign": "order-sign"}
#: A card summary is under 140 characters (CDS Hooks 2.0).
SUMMARY_LIMIT = 139
