"""EHR adapters: FHIR R4 and CDS Hooks 2.0 over the core, one module per job.

* :mod:`~mixcalc.ehr.services`: the service ids and the card summary limit, what the
  routes are declared from at start-up (the rest loads at the first FHIR or CDS call);
* :mod:`~mixcalc.ehr.jsonsafe`: safe accessors for untrusted FHIR JSON, numbers bounded;
* :mod:`~mixcalc.ehr.codes`: the code tables (``formulary/ehr.toml``);
* :mod:`~mixcalc.ehr.exact`: a request computed once (plan, answer) and the plan's exact numbers,
  the one place the adapters take numbers from;
* :mod:`~mixcalc.ehr.write`: a mixture as a FHIR ``MedicationRequest`` (with
  ``DetectedIssue`` for its warnings);
* :mod:`~mixcalc.ehr.names`: what a coded concept names (agent, strength, epinephrine);
* :mod:`~mixcalc.ehr.orders`: reading EHR orders (R4 and DSTU2 shapes);
* :mod:`~mixcalc.ehr.roundtrip`: our own orders read back through our extension;
* :mod:`~mixcalc.ehr.chart`: reading the chart (patient, allergies, conditions,
  medications, doses given today);
* :mod:`~mixcalc.ehr.check`: one order planned by the core;
* :mod:`~mixcalc.ehr.suggestion`: the largest safe volume per site;
* :mod:`~mixcalc.ehr.cards`: the cards;
* :mod:`~mixcalc.ehr.hook`: discovery and the hook answer (the whole session);
* :mod:`~mixcalc.ehr.fetch`: completing a call from the EHR's FHIR server (I/O, bounded).

None of it imports FastAPI; the routes are in :mod:`mixcalc.api.cds`.
"""
