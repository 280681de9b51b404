// What this device remembers between visits (localStorage): the units chosen, the last
// mixture, and named presets.  Never patient data: a mixture is the agents, strengths,
// amounts, number of sites and syringe choice, nothing about who it is for.

const PREFERENCES = "mixcalc.units";
const LAST = "mixcalc.last-mixture";
const PRESETS = "mixcalc.presets";

function read(key, fallback) {
  try {
    const value = JSON.parse(localStorage.getItem(key) ?? "null");
    return value && typeof value === "object" ? value : fallback;
  } catch {
    return fallback;
  }
}

function write(key, value) {
  try {
    localStorage.setItem(key, JSON.stringify(value));
  } catch {
    // Storage full or disabled: the page works without remembering.
  }
}

export function units() {
  return read(PREFERENCES, {});
}

export function saveUnits(chosen) {
  write(PREFERENCES, chosen);
}

export function lastMixture() {
  return read(LAST, null);
}

export function saveLastMixture(mixture) {
  write(LAST, mixture);
}

export function presets() {
  return read(PRESETS, {});
}

export function savePreset(name, mixture) {
  write(PRESETS, { ...presets(), [name]: mixture });
}

export function deletePreset(name) {
  const kept = presets();
  delete kept[name];
  write(PRESETS, kept);
}
