// How the page shows the API's numbers to people (ISMP, CLINICAL.md section 12): a
// leading zero (0.5 mL), no trailing zero (5 mL), a space before the unit, thousands
// separators (1,000 mg), mcg for ug, Tall Man EPINEPHrine.
//
// These functions only format.  A dose is shown with every digit the API sent
// (JavaScript's shortest round-trip form of it), except on a syringe label (3
// significant digits, labelAmount).  The conversions are for display: mg/mL to a w/v
// percent (1 % = 10 mg/mL), a fraction of the maximum to a whole percent rounded up, a
// volume to the precision its syringe is read at, and an epinephrine concentration to
// its ratio strength.

const EVERY_DIGIT = new Intl.NumberFormat("en-US", { maximumFractionDigits: 20, useGrouping: true });
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

/**
 * A fraction of a maximum as people see it everywhere (the shared rule, as Python's
 * mixcalc.display.percent): whole percent, rounded up, never understating a load.
 * 1.0029 is "101 %", 0.1333 is "14 %".  The API sends fractions to 4 places; the
 * rounding is done on whole ten-thousandths so that binary floating point cannot
 * turn 0.14 into 15 %.
 */
export function percentage(fraction) {
  const tenThousandths = Math.round(fraction * 10000);
  return `${number(Math.floor((tenThousandths + 99) / 100))} %`;
}

function decimals(quantity) {
  const text = String(quantity.value);
  return text.includes(".") ? text.length - text.indexOf(".") - 1 : 0;
}

/**
 * A volume as it is read on a syringe graduated in `graduation` (as many decimals as the
 * graduation has; half to even, as Python's mixcalc.display.volume_read), "about …"
 * when that rounds it: 1.2333 mL read in 0.2 mL steps is "about 1.2 mL".
 */
export function volumeRead(quantity, graduation, space = " ") {
  const places = decimals(graduation);
  const scaled = Math.round(quantity.value * 10 ** (places + 4));
  let whole = Math.floor(scaled / 10000);
  const rest = scaled - whole * 10000;
  if (rest > 5000 || (rest === 5000 && whole % 2 === 1)) whole += 1;
  const shown = whole / 10 ** places;
  if (shown === 0) return `${number(quantity.value)}${space}${unitLabel(quantity.unit)}`;
  const text = `${number(shown)}${space}${unitLabel(quantity.unit)}`;
  return rest === 0 ? text : `about ${text}`;
}

const SHORT = new Intl.NumberFormat("en-US", { maximumSignificantDigits: 3, useGrouping: true });

/** An amount for a syringe label: 3 significant digits and a no-break space (ISMP: a number never parts from its unit). */
export function labelAmount(quantity) {
  return `${SHORT.format(quantity.value)}\u00a0${unitLabel(quantity.unit)}`;
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
