// Words for the ids the API uses, for people.  An id without words here is shown as it is.

/** Words for the condition ids (CLINICAL.md section 10); an unknown id is shown as it is. */
export const CONDITION_LABELS = {
  "infection-at-site": "Infection at the injection site (e.g. cellulitis)",
  "systemic-infection": "Systemic infection",
  "systemic-fungal-infection": "Systemic fungal infection",
  "amide-allergy": "Allergy to amide local anesthetics",
  "ester-allergy": "Allergy to ester local anesthetics",
  "paraben-allergy": "Paraben allergy",
  "sulfite-allergy": "Sulfite allergy",
  anticoagulation: "Takes an anticoagulant",
  "bleeding-disorder": "Bleeding disorder",
  pregnancy: "Pregnancy",
  "heart-failure": "Severe heart failure",
  "liver-failure": "Advanced liver failure",
  "cardiovascular-disease": "Cardiovascular disease",
  "renal-impairment": "Renal impairment",
  "advanced-renal-impairment": "Advanced renal impairment or risk of renal failure",
  labor: "Labor and delivery",
  "peptic-ulcer": "Peptic ulcer or GI bleeding (active or past)",
  "nsaid-allergy": "Allergy to aspirin or another NSAID",
  "nsaid-use": "Takes aspirin or another NSAID",
  "maoi-or-tca-use": "Takes an MAO inhibitor or a tricyclic antidepressant",
};

export function conditionLabel(id) {
  return CONDITION_LABELS[id] ?? id;
}

/** What to do first about a warning, by its code: the sheet shows this before the finding. */
const ACTIONS = {
  max_dose_exceeded: "Lower the dose",
  max_dose_near: "Check the dose",
  combined_local_anesthetic_exceeded: "Lower the local anesthetic doses",
  combined_local_anesthetic_near: "Check the combined local anesthetic dose",
  combined_steroid_exceeded: "Lower the corticosteroid doses",
  combined_steroid_near: "Check the combined corticosteroid dose",
  epinephrine_limit_exceeded: "Lower the EPINEPHrine",
  epinephrine_limit_near: "Check the EPINEPHrine",
  epinephrine_total: "Avoid end-artery sites",
  weight_required: "Weigh the patient",
  weight_missing: "Enter the weight if known",
  implausible_patient: "Check the age and weight",
  max_dose_restriction_not_assessed: "Enter the age and weight",
  nonstandard_concentration: "Check the strength on the vial",
  volume_rounded: "Draw the volumes shown",
  off_label_mixture: "Note the off-label mixture",
  preservative_flocculation: "Use preservative-free (MPF) products",
  route_not_labeled: "Check the product's route",
  contraindicated: "Do not use this agent",
  allergy: "Do not use this agent",
  bleeding_risk: "Weigh the bleeding risk",
  incompatible_mixture: "Do not mix these agents",
  pediatric_contraindicated: "Do not use this agent",
  pediatric_off_label: "Weigh the off-label use",
  pediatric_epinephrine_limit: "Weigh the EPINEPHrine for this child",
  infant_dose_presumed: "Enter the age",
  population_not_assessed: "Enter the age",
  dosing_weight_not_assessed: "Enter the height and sex",
  dosing_weight_fallback: "Check the dosing weight",
  draw_measured_separately: "Measure in the finer syringe",
  draw_outside_tolerance: "Choose a syringe that measures the draw",
  condition_caution: "Weigh the caution",
  reduced_dose_advised: "Consider a lower dose",
  off_label_use: "Weigh the off-label use",
  boxed_warning: "Weigh the boxed warnings",
};

const SEVERITY_ACTIONS = { critical: "Do not prepare as planned", warning: "Review before preparing", info: "Note" };

export function warningAction(warning) {
  return ACTIONS[warning.code] ?? SEVERITY_ACTIONS[warning.severity] ?? "Note";
}

/** `text` with the answer's agent ids replaced by the names people read (Tall Man where ISMP asks). */
export function withNames(text, components) {
  let named = text;
  for (const component of [...components].sort((a, b) => b.agent.length - a.agent.length)) {
    if (component.agent === component.name) continue;
    const id = component.agent.replace(/[-]/g, "\\-");
    named = named.replace(new RegExp(`(?<![\\w-])${id}(?![\\w-])`, "g"), component.name);
  }
  return named;
}
