"""mixcalc: trigger point injection mixtures, computed with units and checked for safety.

The core is plain Python (no web framework).  Its one entry point::

    from mixcalc import plan_mixture
    answer = plan_mixture({"sites": 6, "components": [...], "patient": {...}})

takes the same request as ``POST /v1/mixtures`` and returns the same answer.  The HTTP
layer is :mod:`mixcalc.api` (``mixcalc.api:app``), the command line :mod:`mixcalc.cli`.
"""

from .errors import FormularyError, MixcalcError, PlanError
from .formulary import Formulary, default_formulary, load_formulary
from .plan import plan_mixture
from .schema import MixtureRequest, MixtureResponse

__all__ = [
    "Formulary",
    "FormularyError",
    "MixcalcError",
    "MixtureRequest",
    "MixtureResponse",
    "PlanError",
    "default_formulary",
    "load_formulary",
    "plan_mixture",
]
__version__ = "1.0.0"
