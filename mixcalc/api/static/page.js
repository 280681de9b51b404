// The page's start: load the formulary, build the form (with the units and the last
// mixture this device remembers), and on Calculate post the mixture and show the answer
// (or the API's errors beside their fields).
//
// Printing is STOP-aware: with a critical warning, Print asks for a reason first; the
// sheet and every label then carry "OVER LIMIT — reviewed: <reason>"; without it only
// the sheet prints, marked STOP, never the labels (print CSS keys on the same state, so
// the browser's own Print command is no way around it).
//
// When the service asks for an API key (401), the key panel appears; the key entered is
// kept for this tab only and the call that needed it is made again.

import { ApiError, getFormulary, postMixture, storeKey, storedKey } from "./api.js";
import { append, byId, clear, el } from "./dom.js";
import { MixtureForm, addFieldError, clearErrors, showErrors } from "./form.js";
import { hasCritical, hideResult, markReviewed, markStale, noteText, renderResult, stampLabels } from "./result.js";
import * as store from "./store.js";

const UNIT_FIELDS = ["weight-unit", "height-unit", "age-unit"];

const state = {
  formulary: null,
  form: null,
  answer: null,
  /** What to do again once a key is given: load the formulary, or calculate. */
  retry: null,
};

function announce(text) {
  byId("announcer").textContent = text;
}

function askForKey(retry) {
  state.retry = retry;
  const panel = byId("key-panel");
  const input = byId("api-key");
  const error = byId("api-key-error");
  const rejected = storedKey() !== "";
  byId("key-reason").textContent = rejected
    ? "The service did not accept the API key in use. Enter a valid key."
    : "This service asks for an API key before it answers.";
  error.hidden = true;
  input.removeAttribute("aria-invalid");
  if (rejected) {
    addFieldError(error, "This key was not accepted.");
    input.setAttribute("aria-invalid", "true");
  }
  panel.hidden = false;
  announce("An API key is needed.");
  input.focus();
}

function keyEntered(event) {
  event.preventDefault();
  const input = byId("api-key");
  const key = input.value.trim();
  if (key === "") {
    const error = byId("api-key-error");
    error.hidden = true;
    addFieldError(error, "Enter the API key.");
    input.setAttribute("aria-invalid", "true");
    input.focus();
    return;
  }
  storeKey(key);
  input.value = "";
  byId("key-panel").hidden = true;
  const retry = state.retry;
  state.retry = null;
  retry?.();
}

// --- remembered units, last mixture, presets ------------------------------------------------

function restoreUnits() {
  const chosen = store.units();
  for (const id of UNIT_FIELDS) {
    const select = byId(id);
    if ([...select.options].some((option) => option.value === chosen[id])) select.value = chosen[id];
    select.addEventListener("change", () => {
      store.saveUnits(Object.fromEntries(UNIT_FIELDS.map((name) => [name, byId(name).value])));
    });
  }
}

function fillPresets(selected = "") {
  const select = byId("preset");
  const names = Object.keys(store.presets()).sort((a, b) => a.localeCompare(b));
  clear(select);
  if (names.length === 0) {
    append(select, el("option", { value: "" }, "No preset saved yet"));
  } else {
    append(select, el("option", { value: "" }, "Choose a preset"), names.map((name) => el("option", { value: name }, name)));
  }
  select.value = names.includes(selected) ? selected : "";
  select.disabled = names.length === 0;
  byId("use-preset").disabled = names.length === 0;
  byId("delete-preset").disabled = names.length === 0;
}

function presetError(message) {
  const holder = byId("preset-name-error");
  const input = byId("preset-name");
  holder.hidden = true;
  input.removeAttribute("aria-invalid");
  if (message) {
    addFieldError(holder, message);
    input.setAttribute("aria-invalid", "true");
    input.focus();
  }
}

function savePreset() {
  const name = byId("preset-name").value.trim();
  if (name === "") {
    presetError("Name the preset, e.g. “lidocaine + triamcinolone, 6 sites”.");
    return;
  }
  presetError(null);
  store.savePreset(name, state.form.mixture());
  byId("preset-name").value = "";
  fillPresets(name);
  announce(`Preset “${name}” saved on this device.`);
}

function usePreset() {
  const name = byId("preset").value;
  const mixture = store.presets()[name];
  if (!mixture) {
    announce("Choose a preset first.");
    byId("preset").focus();
    return;
  }
  state.form.applyMixture(mixture);
  markStale();
  announce(`Preset “${name}” is in the form.`);
}

function deletePreset() {
  const name = byId("preset").value;
  if (name === "") {
    announce("Choose the preset to delete first.");
    byId("preset").focus();
    return;
  }
  store.deletePreset(name);
  fillPresets();
  announce(`Preset “${name}” deleted from this device.`);
}

function newPatient() {
  state.form.clearPatient();
  state.answer = null;
  hideResult();
  clearErrors();
  byId("weight").focus();
  announce("New patient: the patient fields are cleared; the mixture is kept.");
}

// --- the calls --------------------------------------------------------------------------

/** Focus starts in the first field: the preset choice once there are presets, else the first agent. */
function focusFirstField() {
  const preset = byId("preset");
  (preset.disabled ? byId("component-list").querySelector("select") : preset)?.focus();
}

async function loadFormulary() {
  announce("Loading the formulary…");
  try {
    state.formulary = await getFormulary();
  } catch (error) {
    if (error instanceof ApiError && error.needsKey) {
      askForKey(loadFormulary);
      return;
    }
    byId("formulary-name").textContent = "The formulary could not be loaded.";
    const problem = { title: "The page could not start", detail: String(error) };
    showErrors(error instanceof ApiError ? error.problem : problem);
    announce("");
    return;
  }
  byId("formulary-name").textContent = `Formulary: ${state.formulary.name}, version ${state.formulary.version}`;
  if (state.form === null) {
    state.form = new MixtureForm(state.formulary, { onChange: markStale });
    const last = store.lastMixture();
    if (last) state.form.applyMixture(last);
    restoreUnits();
    fillPresets();
  }
  clearErrors();
  byId("mixture-form").hidden = false;
  focusFirstField();
  announce("Ready.");
}

async function calculate() {
  const { request, faults } = state.form.read();
  hideResult();
  if (faults.length > 0) {
    showErrors({ title: "Fill in these fields first", errors: faults });
    announce("");
    return;
  }
  clearErrors();
  store.saveLastMixture(state.form.mixture());
  const button = byId("calculate");
  button.disabled = true;
  byId("mixture-form").setAttribute("aria-busy", "true");
  announce("Calculating…");
  try {
    const answer = await postMixture(request);
    state.answer = answer;
    renderResult(answer, request, Number.parseFloat(state.formulary.policy.near_limit_threshold));
    announce("Calculated.");
    const result = byId("result");
    result.focus({ preventScroll: true });
    result.scrollIntoView({ block: "start" });
  } catch (error) {
    if (error instanceof ApiError && error.needsKey) {
      askForKey(calculate);
    } else {
      const problem = { title: "Nothing was computed", detail: String(error) };
      showErrors(error instanceof ApiError ? error.problem : problem);
      announce("");
    }
  } finally {
    button.disabled = false;
    byId("mixture-form").removeAttribute("aria-busy");
  }
}

// --- printing and the note ------------------------------------------------------------------

function printSheet() {
  if (state.answer === null) return;
  const reviewed = byId("result").dataset.stop;
  if (hasCritical(state.answer) && reviewed !== "reviewed") {
    byId("acknowledge").hidden = false;
    byId("ack-reason").focus();
    announce("This plan has a critical warning: state a reason to print its labels.");
    return;
  }
  window.print();
}

function acknowledged(event) {
  event.preventDefault();
  const reason = byId("ack-reason").value.trim().replace(/\s+/g, " ");
  const holder = byId("ack-reason-error");
  holder.hidden = true;
  byId("ack-reason").removeAttribute("aria-invalid");
  if (reason.length < 3) {
    addFieldError(holder, "State why this plan is prepared despite the critical warning.");
    byId("ack-reason").setAttribute("aria-invalid", "true");
    byId("ack-reason").focus();
    return;
  }
  markReviewed(state.answer, reason);
  byId("acknowledge").hidden = true;
  byId("print").textContent = "Print sheet and labels (reviewed)";
  announce("Reviewed: the sheet and every label carry the reason.");
  window.print();
}

function printSheetOnly() {
  byId("acknowledge").hidden = true;
  window.print(); // the print CSS leaves the labels out while the STOP is unreviewed
}

async function copyNote() {
  if (state.answer === null) return;
  const text = noteText(state.answer);
  const status = byId("copy-status");
  try {
    await navigator.clipboard.writeText(text);
    status.textContent = "Copied to the clipboard: the mixture, doses, verdict and formulary version.";
    byId("note-text").hidden = true;
  } catch {
    const area = byId("note-text");
    area.value = text;
    area.hidden = false;
    area.select();
    status.textContent = "The clipboard is not available here: the summary is selected below; copy it by hand.";
  }
}

function enterCalculates(event) {
  // Enter in a text field submits the form by itself; in a select or on a checkbox it does not.
  if (event.key !== "Enter" || event.defaultPrevented) return;
  const target = event.target;
  if (target instanceof HTMLSelectElement || (target instanceof HTMLInputElement && target.type === "checkbox")) {
    event.preventDefault();
    byId("mixture-form").requestSubmit();
  }
}

function start() {
  byId("key-form").addEventListener("submit", keyEntered);
  const form = byId("mixture-form");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    calculate();
  });
  form.addEventListener("keydown", enterCalculates);
  form.addEventListener("input", (event) => {
    if (!event.target.closest("#presets")) markStale();
  });
  form.addEventListener("change", (event) => {
    if (!event.target.closest("#presets")) markStale();
  });
  byId("save-preset").addEventListener("click", savePreset);
  byId("use-preset").addEventListener("click", usePreset);
  byId("delete-preset").addEventListener("click", deletePreset);
  byId("preset-name").addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      savePreset();
    }
  });
  byId("new-patient").addEventListener("click", newPatient);
  byId("print").addEventListener("click", printSheet);
  byId("acknowledge").addEventListener("submit", acknowledged);
  byId("print-sheet-only").addEventListener("click", printSheetOnly);
  byId("ack-cancel").addEventListener("click", () => {
    byId("acknowledge").hidden = true;
    byId("print").focus();
  });
  byId("copy-note").addEventListener("click", copyNote);
  byId("edit").addEventListener("click", () => byId("mixture-heading").focus());
  window.addEventListener("beforeprint", () => {
    stampLabels();
    for (const notes of document.querySelectorAll("details.notes")) notes.open = true;
  });
  loadFormulary();
}

start();
