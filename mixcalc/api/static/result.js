// The answer of POST /v1/mixtures as a preparation sheet.  First what a clinician acts on:
// the verdict, then each syringe's draws in order (product with its stock strength, the
// volume as read on that syringe, the dose).  Then the largest volume per site, the
// doses against the maximum as bars, the warnings (each led by what to do; notes folded
// under one line), the lipid emulsion rescue, the aftercare and the syringe labels.
//
// Every number shown is one the answer carries, shown by format.js.  The page only
// compares a fraction of the maximum with the formulary's near-limit threshold to choose
// the words and colour of its bar; colour is never the only signal.

import { append, byId, clear, el } from "./dom.js";
import { amount, epinephrine, labelAmount, percentage, strength, volumeRead } from "./format.js";
import { conditionLabel, warningAction, withNames } from "./words.js";

const SEVERITY = {
  critical: { rank: 0, word: "Critical", icon: "✖" },
  warning: { rank: 1, word: "Warning", icon: "▲" },
  info: { rank: 2, word: "Note", icon: "ℹ" },
};

const STATUS = {
  over: { word: "OVER LIMIT", icon: "✖" },
  near: { word: "Near limit", icon: "▲" },
  ok: { word: "OK", icon: "✔" },
  unknown: { word: "weight needed", icon: "?" },
};

const AGE_UNITS = { a: "years", mo: "months" };

const DOSING_WEIGHTS = {
  total: "total body weight",
  ideal: "ideal body weight",
  adjusted: "adjusted body weight",
  lean: "lean body weight",
};

/** "over" above the maximum, "near" at or above the threshold, "unknown" without a fraction, else "ok". */
export function loadStatus(fraction, nearThreshold) {
  if (fraction === null || fraction === undefined) return "unknown";
  if (fraction > 1) return "over";
  return fraction >= nearThreshold ? "near" : "ok";
}

function plural(count, one, many = `${one}s`) {
  return `${count} ${count === 1 ? one : many}`;
}

export function hasCritical(answer) {
  return answer.warnings.some((w) => w.severity === "critical");
}

/** The verdict in words (also the first line of the note). */
export function verdictText(answer) {
  const count = (severity) => answer.warnings.filter((w) => w.severity === severity).length;
  const critical = count("critical");
  const warning = count("warning");
  if (critical > 0) return `STOP: ${plural(critical, "critical warning")}. Do not prepare this mixture as planned.`;
  if (warning > 0) return `CHECK: ${plural(warning, "warning")} to weigh before preparing; no critical warning.`;
  return "OK: no warning; within the formulary's limits for this patient.";
}

function verdict(answer) {
  const critical = answer.warnings.filter((w) => w.severity === "critical");
  const kind = critical.length > 0 ? "critical" : answer.warnings.some((w) => w.severity === "warning") ? "warning" : "ok";
  const icon = { critical: "✖ ", warning: "▲ ", ok: "✔ " }[kind];
  const reasons = critical.map((w) =>
    el("li", {}, el("strong", {}, `${warningAction(w)}: `), withNames(w.message, answer.components)),
  );
  return [
    el(
      "p",
      { class: `verdict-${kind}`, role: kind === "critical" ? "alert" : null },
      el("span", { class: "icon", "aria-hidden": "true" }, icon),
      el("strong", {}, verdictText(answer)),
    ),
    reasons.length > 0 ? el("ul", { class: "verdict-reasons" }, reasons) : null,
  ];
}

function componentsByAgent(answer) {
  return new Map(answer.components.map((component) => [component.agent, component]));
}

function productText(component) {
  const text = strength(component.concentration, component.agent_class);
  return component.epinephrine ? `${text} with ${epinephrine(component.epinephrine)}` : text;
}

function drawStep(draw, step, component, syringeNumber, syringe, count = 1) {
  const name = component?.name ?? draw.agent;
  const measured = draw.measured_in ?? null;
  const dose = component?.agent_class === "diluent" ? "" : amount(draw.dose);
  const volume = measured
    ? volumeRead(draw.volume, measured.graduation)
    : volumeRead(draw.volume, syringe.graduation);
  const how = measured
    ? el(
        "span",
        { class: "measured" },
        `measure in a ${amount(measured.capacity)} syringe (${amount(measured.graduation)} steps), add it to syringe ${syringeNumber}`,
      )
    : null;
  return el(
    "tr",
    { "data-agent": draw.agent, class: measured ? "measured-draw" : null },
    el("td", { class: "step", "data-label": "Step" }, String(step)),
    el(
      "th",
      { scope: "row", class: "product", "data-label": "Draw" },
      el("span", { class: "product-name" }, name),
      " ",
      el("span", { class: "product-strength" }, component ? productText(component) : ""),
    ),
    el("td", { class: "volume", "data-label": "Volume" }, volume, how ? el("br") : null, how),
    el("td", { class: "dose", "data-label": "Dose" }, dose),
    el("td", { class: "done print-only", "aria-hidden": "true" }, Array(count).fill("☐").join(" ")),
  );
}

/** Consecutive syringes with the same draws, as [first index, syringe, how many]: drawn alike, shown once. */
export function syringeRuns(syringes) {
  const same = (a, b) =>
    JSON.stringify([a.capacity, a.graduation, a.sites, a.draws]) ===
    JSON.stringify([b.capacity, b.graduation, b.sites, b.draws]);
  const runs = [];
  syringes.forEach((syringe, index) => {
    const last = runs.at(-1);
    if (last && same(last[1], syringe)) last[2] += 1;
    else runs.push([index, syringe, 1]);
  });
  return runs;
}

function syringeSheet(syringe, index, count, total, components) {
  const rows = syringe.draws.map((draw, step) =>
    drawStep(draw, step + 1, components.get(draw.agent), index + 1, syringe, count),
  );
  const which =
    count === 1 ? `Syringe ${index + 1} of ${total}` : `Syringes ${index + 1} to ${index + count} of ${total}, each`;
  return el(
    "article",
    { class: "syringe", "data-syringe": index + 1, "data-count": count },
    el(
      "h4",
      {},
      `${which}: ${amount(syringe.capacity)} syringe, read in ${amount(syringe.graduation)} steps, ${plural(syringe.sites, "site")}`,
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
          el("th", { scope: "col" }, "Draw (stock strength)"),
          el("th", { scope: "col" }, "Volume"),
          el("th", { scope: "col" }, "Dose"),
          el("th", { scope: "col", class: "print-only" }, "Done"),
        ),
      ),
      el("tbody", {}, rows),
    ),
    el(
      "p",
      { class: "per-site" },
      "Fill ",
      el("strong", { class: "fill" }, amount(syringe.fill_volume)),
      "; inject ",
      el("strong", { class: "site-volume" }, volumeRead(syringe.volume_per_site, syringe.graduation)),
      ` per site. Dead space ${amount(syringe.dead_space)} is not added.`,
    ),
  );
}

function warningItem(warning, components) {
  const severity = SEVERITY[warning.severity] ?? SEVERITY.info;
  return el(
    "li",
    { class: `warning severity-${warning.severity}`, "data-code": warning.code },
    el(
      "p",
      { class: "warning-head" },
      el("span", { class: "badge" }, el("span", { "aria-hidden": "true" }, `${severity.icon} `), severity.word),
      " ",
      el("strong", { class: "action" }, warningAction(warning)),
      ": ",
      el("span", { class: "message" }, withNames(warning.message, components)),
    ),
    warning.source.length > 0
      ? el("ul", { class: "sources", "aria-label": "Sources" }, warning.source.map((source) => el("li", {}, source)))
      : null,
  );
}

function rankOf(warning) {
  return SEVERITY[warning.severity]?.rank ?? 3;
}

function warningList(answer) {
  const ordered = [...answer.warnings].sort((a, b) => rankOf(a) - rankOf(b));
  const serious = ordered.filter((w) => w.severity !== "info");
  const notes = ordered.filter((w) => w.severity === "info");
  const parts = [];
  parts.push(
    serious.length > 0
      ? el("ol", { class: "warnings" }, serious.map((w) => warningItem(w, answer.components)))
      : el("p", { class: "no-warnings" }, "No warning."),
  );
  if (notes.length > 0) {
    parts.push(
      el(
        "details",
        { class: "notes" },
        el("summary", {}, `${plural(notes.length, "note")} (information, no action needed)`),
        el("ol", { class: "warnings" }, notes.map((w) => warningItem(w, answer.components))),
      ),
    );
  }
  return parts;
}

function bar(fraction, nearThreshold) {
  const fill = el("span", { class: "bar-fill" });
  fill.style.width = `${Math.min(fraction, 1) * 100}%`;
  const mark = el("span", { class: "bar-threshold" });
  mark.style.left = `${nearThreshold * 100}%`;
  return el("span", { class: "bar", "aria-hidden": "true" }, fill, mark);
}

function loadRow({ name, figures, fraction, basis, nearThreshold, kind, agent, extra = null }) {
  const status = loadStatus(fraction, nearThreshold);
  const shown =
    status === "unknown"
      ? el("span", { class: "load-percentage" }, "no maximum without the weight")
      : el("span", { class: "load-percentage" }, `${percentage(fraction)} of maximum`);
  return el(
    "li",
    { class: `load status-${status} load-${kind}`, "data-agent": agent ?? null, "data-status": status },
    el("span", { class: "load-name" }, name),
    el("span", { class: "load-figures" }, figures),
    status === "unknown" ? null : bar(fraction, nearThreshold),
    el(
      "span",
      { class: "load-status" },
      el("span", { class: "icon", "aria-hidden": "true" }, `${STATUS[status].icon} `),
      shown,
      ": ",
      el("strong", { class: "load-word" }, STATUS[status].word),
    ),
    extra,
    basis ? el("details", { class: "basis" }, el("summary", {}, "How the maximum was set"), el("p", {}, basis)) : null,
  );
}

function loads(answer, components, nearThreshold) {
  const rows = [];
  for (const component of answer.components) {
    if (component.agent_class === "diluent" && component.max_dose === null) continue;
    const prior = component.prior_dose ? ` + ${amount(component.prior_dose)} given earlier today` : "";
    const limit = component.max_dose === null ? "no maximum stated" : `${amount(component.max_dose)} maximum`;
    const alone =
      component.max_volume === null || component.max_volume === undefined
        ? null
        : el(
            "span",
            { class: "max-volume" },
            `Its maximum alone is ${amount(component.max_volume)} of ${productText(component)}` +
              (component.prior_dose ? ", after the dose given earlier today." : "."),
          );
    rows.push(
      loadRow({
        name: component.name,
        figures: `${amount(component.total_dose)}${prior} of ${limit}`,
        fraction: component.fraction_of_max,
        basis: component.max_dose_basis,
        nearThreshold,
        kind: "agent",
        agent: component.agent,
        extra: alone,
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
  const unlimited = answer.components.filter((c) => c.agent_class === "diluent" && c.max_dose === null);
  return [
    el("ul", { class: "loads" }, rows),
    unlimited.length > 0 ? el("p", { class: "hint" }, `No maximum dose: ${unlimited.map((c) => c.name).join(", ")}.`) : null,
    el(
      "p",
      { class: "hint" },
      `Percentages are whole percent, rounded up. The mark on each bar is the near-limit threshold (${percentage(
        nearThreshold,
      )}); a bar over 100 % is striped.`,
    ),
  ];
}

export function headroomText(answer) {
  if (answer.max_volume_per_site) {
    return `Largest volume per site that breaks no limit: ${amount(answer.max_volume_per_site)} (every agent scaled alike, computed and checked by the service).`;
  }
  return "No largest volume per site can be stated for this patient and mixture.";
}

function rescueBlock(rescue) {
  if (!rescue) return [el("p", {}, "The formulary in use has no lipid emulsion plan.")];
  return [
    el("p", { class: "rescue-summary" }, rescue.summary),
    el("ol", { class: "rescue-steps" }, rescue.steps.map((step) => el("li", {}, step))),
    el("ul", { class: "sources", "aria-label": "Sources" }, rescue.source.map((source) => el("li", {}, source))),
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
    return "No weight given: the maximum doses are the absolute caps alone, not per kilogram; a child's maximum needs the weight.";
  }
  const basis = DOSING_WEIGHTS[weight.basis] ?? weight.basis;
  return `Dosing weight ${amount(weight)} (${basis}): ${weight.reason}.`;
}

function reviewLine(reason, className) {
  return el(
    "p",
    { class: className },
    el("strong", {}, `OVER LIMIT — reviewed: ${reason}`),
    el("span", { class: "initials" }, " Initials ____"),
  );
}

const STAMP = new Intl.DateTimeFormat("en-US", { dateStyle: "medium", timeStyle: "short" });

function now() {
  return STAMP.format(new Date()).replace(/ /g, "\u00a0");
}

/** Puts the time of printing on every label. */
export function stampLabels() {
  for (const stamp of document.querySelectorAll(".label-time")) stamp.textContent = now();
}

/** One syringe label (2⅝ × 1 in): what is in the syringe, for whom, when, by whom. */
function labelCard(syringe, index, total, components, reviewed) {
  // A draw measured in a separate syringe is in this one too; the measuring syringe has no label.
  const agents = syringe.draws.map((draw) => {
      const component = components.get(draw.agent);
      if (!component) return el("li", {}, draw.agent);
      if (component.agent_class === "diluent") return el("li", {}, `${component.name} (diluent)`);
      return el(
        "li",
        {},
        `${component.name} ${labelAmount(component.final_concentration)} · ${labelAmount(component.dose_per_site)}/site`,
      );
    });
  return el(
    "div",
    { class: "label-card", "data-syringe": index + 1 },
    el(
      "p",
      { class: "label-title" },
      el("strong", {}, `Syringe ${index + 1} of ${total}`),
      " · for intramuscular trigger point injection",
    ),
    el("ul", { class: "label-agents" }, agents),
    el(
      "p",
      { class: "label-total" },
      `Total ${labelAmount(syringe.fill_volume)} · ${plural(syringe.sites, "site").replace(" ", "\u00a0")} · ${volumeRead(
        syringe.volume_per_site,
        syringe.graduation,
        "\u00a0",
      )}/site`,
    ),
    reviewed ? reviewLine(reviewed, "label-review") : null,
    el("p", { class: "label-fill" }, "Patient / ID ________________________"),
    el("p", { class: "label-fill" }, "Printed ", el("span", { class: "label-time" }, now()), " · Prepared by ____"),
  );
}

/** A plain-text summary for the clinical note: mixture, doses, verdict, formulary version. */
export function noteText(answer) {
  const components = componentsByAgent(answer);
  const lines = [`TPI mixture (mixcalc). ${verdictText(answer)}`];
  for (const w of answer.warnings.filter((x) => x.severity === "critical")) {
    lines.push(`- ${warningAction(w)}: ${withNames(w.message, answer.components)}`);
  }
  for (const [index, syringe, count] of syringeRuns(answer.syringes)) {
    const draws = syringe.draws
      .map((draw) => {
        const c = components.get(draw.agent);
        const dose = c?.agent_class === "diluent" ? "" : ` (${amount(draw.dose)})`;
        return `${c ? `${c.name} ${productText(c)}` : draw.agent} ${amount(draw.volume)}${dose}`;
      })
      .join(" + ");
    const which =
      count === 1
        ? `Syringe ${index + 1} of ${answer.syringes.length}`
        : `Syringes ${index + 1} to ${index + count} of ${answer.syringes.length}, each`;
    const perSite = volumeRead(syringe.volume_per_site, syringe.graduation);
    lines.push(
      `${which} (${amount(syringe.capacity)}, ${plural(syringe.sites, "site")}): ${draws}; ${perSite} per site.`,
    );
  }
  for (const c of answer.components) {
    if (c.agent_class === "diluent") continue;
    const share = c.fraction_of_max === null ? "no maximum without the weight" : `${percentage(c.fraction_of_max)} of maximum`;
    lines.push(`${c.name}: ${amount(c.dose_per_site)} per site, ${amount(c.total_dose)} in all, ${share}.`);
  }
  for (const g of answer.groups) {
    const share = g.fraction === null ? "no maximum without the weight" : `${percentage(g.fraction)} of maximum`;
    lines.push(`Combined ${g.name.toLowerCase()}: ${share}.`);
  }
  const warnings = answer.warnings.filter((w) => w.severity === "warning");
  if (warnings.length > 0) {
    lines.push(`Warnings: ${warnings.map((w) => withNames(w.message, answer.components)).join("; ")}.`);
  }
  lines.push(`Formulary: ${answer.formulary.name}, version ${answer.formulary.version}.`);
  return lines.join("\n");
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
  section.dataset.stop = hasCritical(answer) ? "unreviewed" : "none";
  byId("review-banner").hidden = true;
  clear(byId("review-banner"));
  byId("acknowledge").hidden = true;
  byId("ack-reason").value = "";
  byId("copy-status").textContent = "";
  byId("note-text").hidden = true;
  append(clear(byId("verdict")), verdict(answer));
  append(
    clear(byId("syringes")),
    syringeRuns(answer.syringes).map(([index, syringe, count]) =>
      syringeSheet(syringe, index, count, answer.syringes.length, components),
    ),
  );
  const epinephrineTotal = answer.epinephrine_total ? ` EPINEPHrine in all: ${amount(answer.epinephrine_total)}.` : "";
  const graduation = answer.syringes[0]?.graduation;
  const perSite = graduation ? volumeRead(answer.volume_per_site, graduation) : amount(answer.volume_per_site);
  byId("summary").textContent =
    `${plural(answer.sites, "site")}, ${perSite} per site, ` +
    `${amount(answer.total_volume)} in all, in ${plural(answer.syringes.length, "syringe")}.${epinephrineTotal}`;
  byId("headroom").textContent = headroomText(answer);
  byId("patient-used").textContent = patientText(request);
  append(clear(byId("warnings")), warningList(answer));
  byId("dosing-weight-used").textContent = dosingWeightText(answer);
  append(clear(byId("loads")), loads(answer, components, nearThreshold));
  append(clear(byId("rescue")), rescueBlock(answer.rescue));
  append(clear(byId("aftercare")), answer.aftercare.map((advice) => el("li", {}, advice)));
  renderLabels(answer, null);
  byId("formulary-used").textContent = `Formulary: ${answer.formulary.name}, version ${answer.formulary.version}.`;
  section.hidden = false;
  byId("print").disabled = false;
  byId("copy-note").disabled = false;
  byId("print").textContent = hasCritical(answer) ? "Print… (critical warning: review first)" : "Print sheet and labels";
}

/** The labels, carrying the review line when a critical plan was acknowledged with `reviewed`. */
export function renderLabels(answer, reviewed) {
  const components = componentsByAgent(answer);
  append(
    clear(byId("labels")),
    answer.syringes.map((syringe, index) => labelCard(syringe, index, answer.syringes.length, components, reviewed)),
  );
}

/** Marks the sheet as reviewed despite its critical warning: the reason goes on the sheet and on every label. */
export function markReviewed(answer, reason) {
  const banner = byId("review-banner");
  clear(banner).append(...reviewLine(reason, "review-line").childNodes);
  banner.hidden = false;
  byId("result").dataset.stop = "reviewed";
  renderLabels(answer, reason);
}

/** Marks the shown sheet as no longer matching the form (the form changed since). */
export function markStale() {
  const section = byId("result");
  if (section.hidden || section.classList.contains("stale")) return;
  section.classList.add("stale");
  byId("print").disabled = true;
  byId("copy-note").disabled = true;
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
