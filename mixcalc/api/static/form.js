// The mixture form: built from the formulary, read into the request for
// POST /v1/mixtures, and marked with the API's errors beside the fields they concern.
//
// The form does no arithmetic.  Amounts go to the API as typed, with the unit chosen
// ("0.5 mL", "154 lb"): the API parses them and says what is wrong.  Strengths, the
// epinephrine product and the syringe go as the formulary lists them.

import { append, byId, clear, el } from "./dom.js";
import { amount, epinephrine, epinephrineDenominator, strength } from "./format.js";
import { CONDITION_LABELS, conditionLabel } from "./words.js";

/** Option groups of the agent list: the first whose test matches an agent holds it. */
const AGENT_GROUPS = [
  ["Fast-acting local anesthetics", (a) => a.class === "local-anesthetic" && a.onset === "fast"],
  ["Intermediate-acting local anesthetics", (a) => a.class === "local-anesthetic" && a.onset === "intermediate"],
  ["Long-acting local anesthetics", (a) => a.class === "local-anesthetic" && a.onset === "long"],
  ["Other local anesthetics", (a) => a.class === "local-anesthetic"],
  ["Corticosteroids", (a) => a.class === "corticosteroid"],
  ["Other", () => true],
];

/** The mixture a new form starts with: per site, lidocaine 1 % 0.5 mL + bupivacaine 0.25 % 0.5 mL. */
const DEFAULT_COMPONENTS = [
  { agent: "lidocaine", mgPerMl: 10, perSite: "0.5", unit: "mL" },
  { agent: "bupivacaine", mgPerMl: 2.5, perSite: "0.5", unit: "mL" },
];

const FORM_LABELS = {
  "preservative-free": "Preservative-free (MPF, single-dose)",
  "multi-dose": "Multi-dose vial",
};

const AMOUNT_UNITS = [
  ["mL", "mL per site (volume)"],
  ["mg", "mg per site (dose)"],
  ["ug", "mcg per site (dose)"],
];

/** The condition ids the formulary's rules know, in the order of CONDITION_LABELS. */
function conditionVocabulary(formulary) {
  const found = new Set();
  for (const rule of formulary.conditions ?? []) found.add(rule.condition);
  for (const restriction of formulary.epinephrine?.restrictions ?? []) {
    if (restriction.condition) found.add(restriction.condition);
  }
  for (const agent of formulary.agents) {
    for (const restriction of agent.max_dose?.restrictions ?? []) {
      if (restriction.condition) found.add(restriction.condition);
    }
  }
  const known = Object.keys(CONDITION_LABELS).filter((id) => found.has(id));
  return [...known, ...[...found].filter((id) => !(id in CONDITION_LABELS)).sort()];
}

function sameQuantity(a, b) {
  return a.value === b.value && a.unit === b.unit;
}

/** A labelled field with the holder its errors are shown in (`<id>-error`). */
function labelled(id, text, control, { hidden = false } = {}) {
  return el(
    "div",
    { class: "field", hidden },
    el("label", { for: id }, text),
    control,
    el("p", { id: `${id}-error`, class: "field-error", hidden: true }),
  );
}

function agentSelect(id, agents, placeholder) {
  const select = el("select", { id, "aria-describedby": `${id}-error` }, el("option", { value: "" }, placeholder));
  const left = [...agents];
  for (const [label, test] of AGENT_GROUPS) {
    const members = left.filter(test);
    if (members.length === 0) continue;
    for (const agent of members) left.splice(left.indexOf(agent), 1);
    append(
      select,
      el("optgroup", { label }, members.map((agent) => el("option", { value: agent.id }, agent.display_name))),
    );
  }
  return select;
}

/** One agent of the mixture: agent, strength, epinephrine product, product form, amount per site. */
class ComponentRow {
  constructor(formulary, key, onRemove) {
    this.formulary = formulary;
    const id = (name) => `component-${key}-${name}`;
    this.agent = agentSelect(id("agent"), formulary.agents, "Choose an agent");
    this.strength = el("select", { id: id("strength"), "aria-describedby": `${id("strength")}-error` });
    this.epinephrine = el("select", { id: id("epinephrine"), "aria-describedby": `${id("epinephrine")}-error` });
    this.form = el("select", { id: id("form"), "aria-describedby": `${id("form")}-error` });
    this.amount = el("input", {
      id: id("amount"),
      type: "text",
      inputmode: "decimal",
      size: 6,
      "aria-describedby": `${id("amount")}-error`,
    });
    this.unit = el(
      "select",
      { id: id("unit") },
      AMOUNT_UNITS.map(([code, text]) => el("option", { value: code }, text)),
    );
    this.remove = el("button", { type: "button", class: "secondary remove" }, "Remove");
    this.legend = el("legend");
    this.epinephrineField = labelled(id("epinephrine"), "Epinephrine", this.epinephrine, { hidden: true });
    this.formField = labelled(id("form"), "Product", this.form, { hidden: true });
    const amountControls = el(
      "span",
      { class: "with-unit" },
      this.amount,
      el("label", { for: id("unit"), class: "visually-hidden" }, "Amount unit"),
      this.unit,
    );
    this.element = el(
      "li",
      { class: "component" },
      el(
        "fieldset",
        {},
        this.legend,
        el(
          "div",
          { class: "row" },
          labelled(id("agent"), "Agent", this.agent),
          labelled(id("strength"), "Strength", this.strength),
          labelled(id("amount"), "Amount per site", amountControls),
        ),
        el("div", { class: "row" }, this.epinephrineField, this.formField),
        this.remove,
      ),
    );
    this.agent.addEventListener("change", () => this.agentChanged());
    this.strength.addEventListener("change", () => this.strengthChanged());
    this.remove.addEventListener("click", () => onRemove(this));
    this.agentChanged();
  }

  get chosenAgent() {
    return this.formulary.agents.find((agent) => agent.id === this.agent.value) ?? null;
  }

  get chosenStrength() {
    const agent = this.chosenAgent;
    return agent && this.strength.value !== "" ? agent.strengths[Number(this.strength.value)] : null;
  }

  /** Fills the row: `mgPerMl` picks the stocked strength. */
  choose({ agent, mgPerMl, perSite, unit }) {
    this.agent.value = agent;
    this.agentChanged();
    const chosen = this.chosenAgent;
    const index = chosen ? chosen.strengths.findIndex((s) => s.unit === "mg/mL" && s.value === mgPerMl) : -1;
    if (index >= 0) {
      this.strength.value = String(index);
      this.strengthChanged();
    }
    this.amount.value = perSite;
    this.unit.value = unit;
  }

  agentChanged() {
    const agent = this.chosenAgent;
    clear(this.strength);
    clear(this.form);
    if (agent === null) {
      append(this.strength, el("option", { value: "" }, "Choose an agent first"));
      this.formField.hidden = true;
      this.strengthChanged();
      return;
    }
    if (agent.strengths.length > 1) {
      append(this.strength, el("option", { value: "" }, "Choose a strength"));
    }
    agent.strengths.forEach((quantity, index) => {
      append(this.strength, el("option", { value: String(index) }, strength(quantity, agent.class)));
    });
    const forms = agent.forms ?? [];
    this.formField.hidden = forms.length === 0;
    append(this.form, el("option", { value: "" }, "Not stated"));
    for (const form of forms) {
      const contains = form.contains?.length ? ` (contains ${form.contains.join(", ")})` : "";
      append(this.form, el("option", { value: form.id }, `${FORM_LABELS[form.id] ?? form.id}${contains}`));
    }
    if (this.amount.value.trim() === "") {
      this.unit.value = ["local-anesthetic", "diluent"].includes(agent.class) ? "mL" : "mg";
    }
    this.strengthChanged();
  }

  strengthChanged() {
    const agent = this.chosenAgent;
    const chosen = this.chosenStrength;
    clear(this.epinephrine);
    append(this.epinephrine, el("option", { value: "" }, "None (plain)"));
    const products =
      agent && chosen
        ? agent.epinephrine_products.filter((product) => product.strengths.some((s) => sameQuantity(s, chosen)))
        : [];
    for (const product of products) {
      const denominator = epinephrineDenominator(product.epinephrine);
      if (denominator === null) continue;
      const contains = product.contains?.length ? ` (contains ${product.contains.join(", ")})` : "";
      const text = `With ${epinephrine(product.epinephrine)}${contains}`;
      append(this.epinephrine, el("option", { value: `1:${denominator}` }, text));
    }
    this.epinephrineField.hidden = this.epinephrine.options.length < 2;
  }

  /** The row as a remembered mixture part (no patient data). */
  snapshot() {
    return {
      agent: this.agent.value,
      strength: this.chosenStrength,
      epinephrine: this.epinephrine.value,
      form: this.form.value,
      amount: this.amount.value.trim(),
      unit: this.unit.value,
    };
  }

  /** Fills the row from a remembered part; what the formulary no longer has is left empty. */
  apply(part) {
    if (!this.formulary.agents.some((agent) => agent.id === part.agent)) return;
    this.agent.value = part.agent;
    this.agentChanged();
    const agent = this.chosenAgent;
    const index = part.strength ? agent.strengths.findIndex((s) => sameQuantity(s, part.strength)) : -1;
    if (index >= 0) {
      this.strength.value = String(index);
      this.strengthChanged();
    }
    if ([...this.epinephrine.options].some((option) => option.value === part.epinephrine)) {
      this.epinephrine.value = part.epinephrine;
    }
    if ([...this.form.options].some((option) => option.value === part.form)) this.form.value = part.form;
    this.amount.value = part.amount ?? "";
    if ([...this.unit.options].some((option) => option.value === part.unit)) this.unit.value = part.unit;
  }

  /** Numbers the row (0-based) and points its fields at the request's JSON pointers. */
  setIndex(index) {
    const at = `/components/${index}`;
    this.legend.textContent = `Agent ${index + 1}`;
    this.remove.setAttribute("aria-label", `Remove agent ${index + 1}`);
    this.agent.dataset.pointer = `${at}/agent`;
    this.strength.dataset.pointer = `${at}/concentration`;
    this.epinephrine.dataset.pointer = `${at}/epinephrine`;
    this.form.dataset.pointer = `${at}/form`;
    this.amount.dataset.pointer = `${at} ${at}/volume_per_site ${at}/dose_per_site`;
  }

  /** The component for the request, and the faults found before sending it. */
  read(index, faults) {
    const component = { agent: this.agent.value };
    const chosen = this.chosenStrength;
    if (chosen !== null) component.concentration = chosen;
    if (this.epinephrine.value !== "") component.epinephrine = this.epinephrine.value;
    if (this.form.value !== "") component.form = this.form.value;
    const text = this.amount.value.trim();
    if (text !== "") {
      component[this.unit.value === "mL" ? "volume_per_site" : "dose_per_site"] = `${text} ${this.unit.value}`;
    }
    if (this.agent.value === "") {
      faults.push({ pointer: `/components/${index}/agent`, detail: "choose an agent, or remove this row" });
    }
    if (text === "") {
      faults.push({
        pointer: `/components/${index}/volume_per_site`,
        detail: "enter the amount per site: a volume in mL or a dose in mg or mcg",
      });
    }
    return component;
  }
}

/** A local anesthetic dose already given today. */
class PriorRow {
  constructor(formulary, key, onRemove) {
    const id = (name) => `prior-${key}-${name}`;
    const anesthetics = formulary.agents.filter((agent) => agent.class === "local-anesthetic");
    this.agent = agentSelect(id("agent"), anesthetics, "Choose an agent");
    this.dose = el("input", {
      id: id("dose"),
      type: "text",
      inputmode: "decimal",
      size: 6,
      "aria-describedby": `${id("dose")}-error`,
    });
    this.unit = el(
      "select",
      { id: id("unit") },
      el("option", { value: "mg" }, "mg"),
      el("option", { value: "ug" }, "mcg"),
    );
    this.remove = el("button", { type: "button", class: "secondary remove" }, "Remove");
    this.element = el(
      "li",
      { class: "prior" },
      el(
        "div",
        { class: "row" },
        labelled(id("agent"), "Agent given", this.agent),
        labelled(
          id("dose"),
          "Dose given",
          el(
            "span",
            { class: "with-unit" },
            this.dose,
            el("label", { for: id("unit"), class: "visually-hidden" }, "Dose unit"),
            this.unit,
          ),
        ),
        this.remove,
      ),
    );
    this.remove.addEventListener("click", () => onRemove(this));
  }

  setIndex(index) {
    this.agent.dataset.pointer = `/prior_doses/${index}/agent`;
    this.dose.dataset.pointer = `/prior_doses/${index}/dose`;
    this.remove.setAttribute("aria-label", `Remove earlier dose ${index + 1}`);
  }

  read(index, faults) {
    const text = this.dose.value.trim();
    if (this.agent.value === "") {
      faults.push({ pointer: `/prior_doses/${index}/agent`, detail: "choose the agent given, or remove this row" });
    }
    if (text === "") {
      faults.push({ pointer: `/prior_doses/${index}/dose`, detail: "enter the dose given" });
    }
    return { agent: this.agent.value, dose: `${text} ${this.unit.value}` };
  }
}

/** The whole form over one formulary. */
export class MixtureForm {
  /** `onChange` is called when a row is added or removed (typing is seen by the form's own events). */
  constructor(formulary, { onChange = () => {} } = {}) {
    this.formulary = formulary;
    this.onChange = onChange;
    this.element = byId("mixture-form");
    this.rows = [];
    this.priors = [];
    this.nextKey = 1;
    this.rowKey = 1;
    this.list = byId("component-list");
    this.priorList = byId("prior-list");
    this.fillSyringes();
    this.fillConditions();
    byId("add-component").addEventListener("click", () => this.addRow().agent.focus());
    byId("add-prior").addEventListener("click", () => this.addPrior().agent.focus());
    for (const component of DEFAULT_COMPONENTS) {
      if (formulary.agents.some((agent) => agent.id === component.agent)) {
        this.addRow().choose(component);
      }
    }
    if (this.rows.length === 0) this.addRow();
  }

  fillSyringes() {
    const select = byId("syringe");
    this.formulary.syringes.forEach((syringe, index) => {
      const text = `${amount(syringe.capacity)} (graduations of ${amount(syringe.graduation)})`;
      append(select, el("option", { value: String(index) }, text));
    });
  }

  fillConditions() {
    const holder = byId("condition-list");
    for (const condition of conditionVocabulary(this.formulary)) {
      const id = `condition-${condition}`;
      append(
        holder,
        el(
          "div",
          { class: "check" },
          el("input", { type: "checkbox", id, name: "conditions", value: condition }),
          el("label", { for: id }, conditionLabel(condition)),
        ),
      );
    }
  }

  addRow() {
    const row = new ComponentRow(this.formulary, this.rowKey++, (gone) => this.removeFrom(this.rows, gone));
    this.rows.push(row);
    this.list.append(row.element);
    this.renumber();
    return row;
  }

  addPrior() {
    const row = new PriorRow(this.formulary, this.nextKey++, (gone) => this.removeFrom(this.priors, gone));
    this.priors.push(row);
    this.priorList.append(row.element);
    this.renumber();
    return row;
  }

  removeFrom(rows, gone) {
    const index = rows.indexOf(gone);
    rows.splice(index, 1);
    gone.element.remove();
    this.renumber();
    const next = rows[Math.min(index, rows.length - 1)];
    (next ? next.agent : byId(rows === this.rows ? "add-component" : "add-prior")).focus();
  }

  renumber() {
    this.rows.forEach((row, index) => row.setIndex(index));
    this.priors.forEach((row, index) => row.setIndex(index));
    const only = this.rows.length === 1;
    for (const row of this.rows) row.remove.hidden = only;
    this.onChange();
  }

  /** The mixture as remembered on this device: agents, strengths, amounts, sites, syringe; never the patient. */
  mixture() {
    const syringe = byId("syringe").value;
    return {
      components: this.rows.map((row) => row.snapshot()),
      sites: byId("sites").value.trim(),
      syringe: syringe === "" ? null : this.formulary.syringes[Number(syringe)].capacity,
    };
  }

  /** Replaces the mixture in the form with a remembered one; the patient stays as it is. */
  applyMixture(mixture) {
    const parts = Array.isArray(mixture?.components) ? mixture.components : [];
    if (parts.length === 0) return;
    for (const row of this.rows) row.element.remove();
    this.rows = [];
    this.rowKey = 1; // the rows are numbered afresh: component-1-agent is the first agent again
    for (const part of parts) this.addRow().apply(part);
    byId("sites").value = typeof mixture.sites === "string" ? mixture.sites : "";
    const index = mixture.syringe
      ? this.formulary.syringes.findIndex((s) => sameQuantity(s.capacity, mixture.syringe))
      : -1;
    byId("syringe").value = index >= 0 ? String(index) : "";
    this.renumber();
  }

  /** Clears everything about the patient (measurements, conditions, doses given earlier, dosing-weight rule). */
  clearPatient() {
    for (const id of ["weight", "height", "age"]) byId(id).value = "";
    byId("sex").value = "";
    byId("dosing-weight").value = "";
    for (const box of document.querySelectorAll('input[name="conditions"]')) box.checked = false;
    for (const row of this.priors) row.element.remove();
    this.priors = [];
    this.renumber();
  }

  /** {request, faults}: the request for POST /v1/mixtures and what must be filled in first. */
  read() {
    const faults = [];
    const request = { components: this.rows.map((row, index) => row.read(index, faults)) };
    const sites = byId("sites").value.trim();
    if (sites === "") {
      faults.push({ pointer: "/sites", detail: "enter the number of sites (1 to 50)" });
    }
    request.sites = /^[0-9]+$/.test(sites) ? Number(sites) : sites;
    const syringe = byId("syringe").value;
    if (syringe !== "") request.syringe = this.formulary.syringes[Number(syringe)].capacity;
    const patient = readPatient();
    if (patient !== null) request.patient = patient;
    const rule = byId("dosing-weight").value;
    if (rule !== "") request.dosing_weight = rule;
    if (this.priors.length > 0) {
      request.prior_doses = this.priors.map((row, index) => row.read(index, faults));
    }
    return { request, faults };
  }
}

function readPatient() {
  const patient = {};
  for (const [name, unitId] of [
    ["weight", "weight-unit"],
    ["height", "height-unit"],
    ["age", "age-unit"],
  ]) {
    const text = byId(name).value.trim();
    if (text !== "") patient[name] = `${text} ${byId(unitId).value}`;
  }
  const sex = byId("sex").value;
  if (sex !== "") patient.sex = sex;
  const conditions = [...document.querySelectorAll('input[name="conditions"]:checked')].map((box) => box.value);
  if (conditions.length > 0) patient.conditions = conditions;
  return Object.keys(patient).length > 0 ? patient : null;
}

// --- errors beside their fields ----------------------------------------------------------

/** The field an error's JSON pointer concerns: the nearest enclosing pointer a field claims. */
function fieldFor(pointer) {
  const claimed = [...document.querySelectorAll("[data-pointer]")];
  for (let at = pointer; at !== ""; at = at.slice(0, at.lastIndexOf("/"))) {
    const field = claimed.find((node) => node.dataset.pointer.split(" ").includes(at));
    if (field) return field;
  }
  return null;
}

/** What to call a field in the summary: its label, with its agent row's legend. */
function describe(field) {
  const own = field.labels?.[0]?.textContent ?? field.querySelector(":scope > legend")?.textContent ?? field.id;
  const row = field.closest("li.component fieldset")?.querySelector(":scope > legend")?.textContent;
  const prior = field.closest("li.prior") ? "Earlier dose" : null;
  return [row ?? prior, own].filter(Boolean).join(", ");
}

/** Shows `message` in a field's error holder: "✖ Error: message", further ones after "; ". */
export function addFieldError(holder, message) {
  if (holder.hidden || holder.childNodes.length === 0) {
    clear(holder);
    append(holder, el("span", { "aria-hidden": "true" }, "✖ "), "Error: ");
  } else {
    append(holder, "; ");
  }
  append(holder, el("span", { class: "message" }, message));
  holder.hidden = false;
  holder.closest(".field")?.classList.add("has-error");
}

export function clearErrors() {
  for (const node of document.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
  for (const node of document.querySelectorAll(".field-error")) {
    node.hidden = true;
    clear(node);
  }
  for (const node of document.querySelectorAll(".has-error")) node.classList.remove("has-error");
  const summary = byId("error-summary");
  summary.hidden = true;
  clear(byId("error-summary-list"));
  byId("error-summary-detail").textContent = "";
}

/**
 * Shows a problem: each error beside its field (aria-invalid, described by the message)
 * and in the summary at the top, which takes the focus.
 */
export function showErrors({ title, detail = "", errors = [], suggestion = null }) {
  clearErrors();
  const summary = byId("error-summary");
  const list = byId("error-summary-list");
  summary.querySelector("h2").textContent = title;
  byId("error-summary-detail").textContent = errors.length === 0 ? detail : "";
  for (const error of errors) {
    const field = fieldFor(error.pointer ?? "");
    const message = error.detail ?? "invalid";
    if (field === null) {
      append(list, el("li", {}, `${error.pointer || "The request"}: ${message}`));
      continue;
    }
    const holder = document.getElementById(`${field.id}-error`);
    if (holder) addFieldError(holder, message);
    if (field.matches("input, select, textarea")) field.setAttribute("aria-invalid", "true");
    const link = el("a", { href: `#${field.id}` }, `${describe(field)}: ${message}`);
    link.addEventListener("click", (event) => {
      event.preventDefault();
      (field.matches("fieldset") ? field.querySelector("input, select") ?? field : field).focus();
    });
    append(list, el("li", {}, link));
  }
  if (suggestion) append(list, el("li", {}, `Did you mean ${suggestion}?`));
  summary.hidden = false;
  summary.focus();
}
