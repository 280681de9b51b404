// The page's start: load the formulary, build the form, and on Calculate post the
// mixture and show the answer (or the API's errors beside their fields).
//
// When the service asks for an API key (401), the key panel appears; the key entered is
// kept for this tab only and the call that needed it is made again.

import { ApiError, getFormulary, postMixture, storeKey, storedKey } from "./api.js";
import { byId } from "./dom.js";
import { MixtureForm, addFieldError, clearErrors, showErrors } from "./form.js";
import { hideResult, markStale, renderResult } from "./result.js";

const state = {
  formulary: null,
  form: null,
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
  }
  clearErrors();
  byId("mixture-form").hidden = false;
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
  const button = byId("calculate");
  button.disabled = true;
  byId("mixture-form").setAttribute("aria-busy", "true");
  announce("Calculating…");
  try {
    const answer = await postMixture(request);
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

function start() {
  byId("key-form").addEventListener("submit", keyEntered);
  const form = byId("mixture-form");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    calculate();
  });
  form.addEventListener("input", markStale);
  form.addEventListener("change", markStale);
  byId("print").addEventListener("click", () => window.print());
  byId("edit").addEventListener("click", () => byId("mixture-heading").focus());
  loadFormulary();
}

start();
