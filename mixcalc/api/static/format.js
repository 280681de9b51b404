// How the page shows the API's numbers to people (ISMP, CLINICAL.md section 12): a
// leading zero (0.5 mL), no trailing zero (5 mL), a space before the unit, thousands
// separators (1,000 mg), mcg for ug, Tall Man EPINEPHrine.
//
// These functions only format.  They never round a dose: a number is shown with every
// digit the API sent (JavaScript's shortest round-trip form of it).  The only
// conversions are for display: mg/mL to a w/v percent (1 % = 10 mg/mL), a fraction of
// the maximum to a percentage, and an epinephrine concentration to its ratio strength.

const EVERY_DIGIT = new Intl.NumberFormat("en-US", { maximumFractionDigits: 20, useGrouping: true });
// A fraction of the maximum comes rounded up to 4 places: as a percentage, 2 places.
const PERCENTAGE = new Intl.NumberFormat("en-US", { maximumFractionDigits: 2, useGrouping: true });
// Dividing by 10 or 100 in binary floating point may leave noise in the 17th digit.
const CONVERTED = new Intl.NumberFormat("en-US", { maximumSignificantDigits: 12, useGrouping: true });

const UNIT_LABELS = { ug: "mcg", "ug/mL": "mcg/mL", "[lb_av]": "lb", "[in_i]": "in" };
const MG_PER_ML = { "mg/mL": 1, "ug/mL": 0.001, "g/mL": 1000 };

/** Agent classes whose strengths are written as w/v percent (as the API's labels do). */
const PERCENT_CLASSES = new Set(["local-anesthetic", "diluent"]);

export function number(value) {
  return EVERY_DIGIT.format(value);
}

export function unitLabel(code) {
  return UNIT_LABELS[code] ?? code;
}

/** A quantity {value, unit} for people: {value: 1000, unit: "mg"} is "1,000 mg". */
export function amount(quantity) {
  return `${number(quantity.value)} ${unitLabel(quantity.unit)}`;
}

/** A fraction of a maximum as a percentage: 0.0429 is "4.29 %". */
export function percentage(fraction) {
  return `${PERCENTAGE.format(fraction * 100)} %`;
}

function mgPerMl(quantity) {
  const factor = MG_PER_ML[quantity.unit];
  return factor === undefined ? null : quantity.value * factor;
}

/** A stock strength: "1 % (10 mg/mL)" for local anesthetics and saline, "40 mg/mL" otherwise. */
export function strength(quantity, agentClass) {
  const value = mgPerMl(quantity);
  if (value === null || !PERCENT_CLASSES.has(agentClass)) {
    return amount(quantity);
  }
  return `${CONVERTED.format(value / 10)} % (${number(value)} mg/mL)`;
}

/** The N of an epinephrine ratio strength 1:N (1 g in N mL), or null if not a concentration. */
export function epinephrineDenominator(quantity) {
  const value = mgPerMl(quantity);
  return value === null ? null : Math.round(1000 / value);
}

/** Epinephrine as the ratio strength on local anesthetic labels: "EPINEPHrine 1:200,000". */
export function epinephrine(quantity) {
  const denominator = epinephrineDenominator(quantity);
  return denominator === null ? `EPINEPHrine ${amount(quantity)}` : `EPINEPHrine 1:${number(denominator)}`;
}
