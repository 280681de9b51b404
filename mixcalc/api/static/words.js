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
