// The answer of POST /v1/mixtures as a preparation sheet: the verdict, each syringe's
// draws in order, the warnings by severity, the dose against the maximum as bars, the
// dosing weight and why, the aftercare, and the syringe labels.
//
// Every number shown is one the answer carries.  The page only compares a fraction of
// the maximum with the formulary's near-limit threshold to choose the words and colour
// of its bar; colour is never the only signal (each bar has its percentage and a word).

import { append, byId, clear, el } from "./dom.js";
import { amount, epinephrine, percentage, strength } from "./format.js";
import { conditionLabel } from "./words.js";

const SEVERITY = {
  critical: { rank: 0, word: "Critical", icon: "✖" },
  warning: { rank: 1, word: "Warning", icon: "▲" },
  info: { rank: 2, word: "Note", icon: "ℹ" },
};

const STATUS = {
  over: { word: "OVER LIMIT", icon: "✖" },
  near: { word: "Near limit", icon: "▲" },
  ok: { word: "OK", icon: "✔" },
};

const AGE_UNITS = { a: "years", mo: "months" };

const DOSING_WEIGHTS = {
  total: "total body weight",
  ideal: "ideal body weight",
  adjusted: "adjusted body weight",
  lean: "lean body weight",
};

/** "over" above the maximum, "near" at or above the threshold, else "ok". */
export function loadStatus(fraction, nearThreshold) {
  if (fraction > 1) return "over";
  return fraction >= nearThreshold ? "near" : "ok";
}

function plural(count, one, many = `${one}s`) {
  return `${count} ${count === 1 ? one : many}`;
}

function verdict(warnings) {
  const count = (severity) => warnings.filter((w) => w.severity === severity).length;
  const critical = count("critical");
  const warning = count("warning");
  if (critical > 0) {
    return el(
      "p",
      { class: "verdict-critical", role: "alert" },
      el("span", { class: "icon", "aria-hidden": "true" }, "✖ "),
      el("strong", {}, `STOP: ${plural(critical, "critical warning")}.`),
      " Do not prepare this mixture as planned for this patient; see the warnings below.",
    );
  }
  if (warning > 0) {
    return el(
      "p",
      { class: "verdict-warning" },
      el("span", { class: "icon", "aria-hidden": "true" }, "▲ "),
      el("strong", {}, "No critical warning."),
      ` ${plural(warning, "warning")} to weigh before preparing.`,
    );
  }
  return el(
    "p",
    { class: "verdict-ok" },
    el("span", { class: "icon", "aria-hidden": "true" }, "✔ "),
    el("strong", {}, "No critical warning and no warning."),
    " Within the formulary's limits for this patient.",
  );
}

function componentsByAgent(answer) {
  return new Map(answer.components.map((component) => [component.agent, component]));
}

function productText(component) {
  const text = strength(component.concentration, component.agent_class);
  return component.epinephrine ? `${text} with ${epinephrine(component.epinephrine)}` : text;
}

function syringeSheet(syringe, index, total, components) {
  const rows = syringe.draws.map((draw, step) => {
    const component = components.get(draw.agent);
    return el(
      "tr",
      { "data-agent": draw.agent },
      el("td", { class: "step" }, String(step + 1)),
      el("th", { scope: "row" }, component?.name ?? draw.agent),
      el("td", {}, component ? productText(component) : ""),
      el("td", { class: "volume" }, amount(draw.volume)),
      el("td", { class: "dose" }, amount(draw.dose)),
      el("td", { class: "done print-only", "aria-hidden": "true" }, "☐"),
    );
  });
  return el(
    "article",
    { class: "syringe", "data-syringe": index + 1 },
    el(
      "h4",
      {},
      `Syringe ${index + 1} of ${total}: ${amount(syringe.capacity)} syringe, for ${plural(syringe.sites, "site")}`,
    ),
    el(
      "table",
      { class: "draws" },
      el("caption", { class: "visually-hidden" }, `Draws for syringe ${index + 1}, in order`),
      el(
        "thead",
        {},
        el(
          "tr",
          {},
          el("th", { scope: "col" }, "Step"),
          el("th", { scope: "col" }, "Draw"),
          el("th", { scope: "col" }, "Strength"),
          el("th", { scope: "col" }, "Volume"),
          el("th", { scope: "col" }, "Dose"),
          el("th", { scope: "col", class: "print-only" }, "Done"),
        ),
      ),
      el("tbody", {}, rows),
      el(
        "tfoot",
        {},
        el(
          "tr",
          {},
          el("th", { scope: "row", colspan: 3 }, "Fill"),
          el("td", { class: "fill" }, amount(syringe.fill_volume)),
          el("td", {}, ""),
          el("td", { class: "print-only" }, ""),
        ),
      ),
    ),
    el(
      "p",
      { class: "per-site" },
      "Inject ",
      el("strong", { class: "site-volume" }, amount(syringe.volume_per_site)),
      ` per site, ${plural(syringe.sites, "site")}. Read on graduations of ${amount(syringe.graduation)}; `,
      `dead space ${amount(syringe.dead_space)} is not added (doses are those of the volumes drawn).`,
    ),
  );
}

function warningItem(warning) {
  const severity = SEVERITY[warning.severity] ?? SEVERITY.info;
  return el(
    "li",
    { class: `warning severity-${warning.severity}`, "data-code": warning.code },
    el(
      "p",
      { class: "warning-head" },
      el("span", { class: "badge" }, el("span", { "aria-hidden": "true" }, `${severity.icon} `), severity.word),
      " ",
      el("span", { class: "message" }, warning.message),
    ),
    el(
      "p",
      { class: "warning-meta" },
      `Rule ${warning.code}`,
      warning.agents.length > 0 ? `; concerns ${warning.agents.join(", ")}` : "",
      ".",
    ),
    warning.source.length > 0
      ? el("ul", { class: "sources", "aria-label": "Sources" }, warning.source.map((source) => el("li", {}, source)))
      : null,
  );
}

function warningList(warnings) {
  if (warnings.length === 0) {
    return el("p", {}, "None.");
  }
  // The API sends the most severe first; a stable sort keeps that promise on the page too.
  const rank = (warning) => SEVERITY[warning.severity]?.rank ?? 3;
  const ordered = [...warnings].sort((a, b) => rank(a) - rank(b));
  return el("ol", { class: "warnings" }, ordered.map(warningItem));
}

function bar(fraction, nearThreshold) {
  const fill = el("span", { class: "bar-fill" });
  fill.style.width = `${Math.min(fraction, 1) * 100}%`;
  const mark = el("span", { class: "bar-threshold" });
  mark.style.left = `${nearThreshold * 100}%`;
  return el("span", { class: "bar", "aria-hidden": "true" }, fill, mark);
}

function loadRow({ name, figures, fraction, basis, nearThreshold, kind, agent }) {
  const status = loadStatus(fraction, nearThreshold);
  return el(
    "li",
    { class: `load status-${status} load-${kind}`, "data-agent": agent ?? null, "data-status": status },
    el("span", { class: "load-name" }, name),
    el("span", { class: "load-figures" }, figures),
    bar(fraction, nearThreshold),
    el(
      "span",
      { class: "load-status" },
      el("span", { class: "icon", "aria-hidden": "true" }, `${STATUS[status].icon} `),
      el("span", { class: "load-percentage" }, `${percentage(fraction)} of maximum`),
      ": ",
      el("strong", { class: "load-word" }, STATUS[status].word),
    ),
    basis ? el("details", { class: "basis" }, el("summary", {}, "How the maximum was set"), el("p", {}, basis)) : null,
  );
}

function loads(answer, components, nearThreshold) {
  const rows = [];
  for (const component of answer.components) {
    if (component.fraction_of_max === null || component.max_dose === null) continue;
    const prior = component.prior_dose ? ` + ${amount(component.prior_dose)} given earlier today` : "";
    rows.push(
      loadRow({
        name: component.name,
        figures: `${amount(component.total_dose)}${prior} of ${amount(component.max_dose)} maximum`,
        fraction: component.fraction_of_max,
        basis: component.max_dose_basis,
        nearThreshold,
        kind: "agent",
        agent: component.agent,
      }),
    );
  }
  for (const group of answer.groups) {
    rows.push(
      loadRow({
        name: `Combined: ${group.name.toLowerCase()}`,
        figures: `${group.agents.map((id) => components.get(id)?.name ?? id).join(" + ")}, ${
          group.rule === "additive" ? "fractions added up" : "as its most toxic member"
        }`,
        fraction: group.fraction,
        basis: null,
        nearThreshold,
        kind: "group",
        agent: group.id,
      }),
    );
  }
  const unlimited = answer.components.filter((c) => c.fraction_of_max === null).map((c) => c.name);
  return [
    el("ul", { class: "loads" }, rows),
    unlimited.length > 0 ? el("p", { class: "hint" }, `No maximum dose: ${unlimited.join(", ")}.`) : null,
    el(
      "p",
      { class: "hint" },
      `The mark on each bar is the near-limit threshold (${percentage(nearThreshold)}); a bar over 100 % is striped.`,
    ),
  ];
}

/** What was entered about the patient, as sent (the sheet's reader checks it is this patient). */
function patientText(request) {
  const patient = request.patient ?? {};
  const parts = [];
  if (patient.weight) parts.push(`weight ${patient.weight}`);
  if (patient.height) parts.push(`height ${patient.height}`);
  if (patient.sex) parts.push(patient.sex);
  if (patient.age) parts.push(`age ${patient.age.replace(/ (a|mo)$/, (_, unit) => ` ${AGE_UNITS[unit]}`)}`);
  const conditions = (patient.conditions ?? []).map(conditionLabel).join(", ") || "none entered";
  return `Patient as entered: ${parts.join(", ") || "no measurements"}; conditions: ${conditions}.`;
}

function dosingWeightText(answer) {
  const weight = answer.dosing_weight;
  if (weight === null) {
    return "No weight given: the maximum doses are the absolute caps alone, not per kilogram.";
  }
  const basis = DOSING_WEIGHTS[weight.basis] ?? weight.basis;
  return `Dosing weight ${amount(weight)} (${basis}): ${weight.reason}.`;
}

function labelCard(syringe) {
  return el(
    "div",
    { class: "label-card" },
    el("p", { class: "label-text" }, syringe.label),
    el("p", { class: "label-fill" }, "Patient ______________ Date/time ________ Prepared by ____ Checked by ____"),
  );
}

/**
 * Fills the result section with `answer`, the API's answer to `request`;
 * `nearThreshold` is the formulary's policy.
 */
export function renderResult(answer, request, nearThreshold) {
  const components = componentsByAgent(answer);
  const section = byId("result");
  section.classList.remove("stale");
  document.getElementById("stale-notice")?.remove();
  clear(byId("verdict")).append(verdict(answer.warnings));
  const epinephrineTotal = answer.epinephrine_total ? ` EPINEPHrine in all: ${amount(answer.epinephrine_total)}.` : "";
  byId("summary").textContent =
    `${plural(answer.sites, "site")}, ${amount(answer.volume_per_site)} per site, ` +
    `${amount(answer.total_volume)} in all, in ${plural(answer.syringes.length, "syringe")}.${epinephrineTotal}`;
  byId("patient-used").textContent = patientText(request);
  append(
    clear(byId("syringes")),
    answer.syringes.map((syringe, index) => syringeSheet(syringe, index, answer.syringes.length, components)),
  );
  append(clear(byId("warnings")), warningList(answer.warnings));
  byId("dosing-weight-used").textContent = dosingWeightText(answer);
  append(clear(byId("loads")), loads(answer, components, nearThreshold));
  append(clear(byId("aftercare")), answer.aftercare.map((advice) => el("li", {}, advice)));
  append(clear(byId("labels")), answer.syringes.map(labelCard));
  byId("formulary-used").textContent = `Formulary: ${answer.formulary.name}, version ${answer.formulary.version}.`;
  section.hidden = false;
  byId("print").disabled = false;
}

/** Marks the shown sheet as no longer matching the form (the form changed since). */
export function markStale() {
  const section = byId("result");
  if (section.hidden || section.classList.contains("stale")) return;
  section.classList.add("stale");
  byId("print").disabled = true;
  byId("verdict").before(
    el(
      "p",
      { id: "stale-notice", class: "stale-notice", role: "status" },
      "The form has changed since this sheet was calculated. Calculate again before printing.",
    ),
  );
}

export function hideResult() {
  byId("result").hidden = true;
}
