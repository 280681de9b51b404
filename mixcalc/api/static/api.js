// The two calls the page makes to the JSON API, with the optional API key.
//
// A key, when the service asks for one, is kept in sessionStorage (this tab only, gone
// when it closes) and sent as the X-API-Key header.  Every failure becomes an ApiError
// carrying the RFC 9457 problem the service answered (or one made up here when the
// service could not be reached or did not answer with a problem).

const KEY_STORAGE = "mixcalc.api-key";

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }

  get needsKey() {
    return this.status === 401;
  }
}

export function storedKey() {
  return sessionStorage.getItem(KEY_STORAGE) ?? "";
}

export function storeKey(key) {
  if (key) {
    sessionStorage.setItem(KEY_STORAGE, key);
  } else {
    sessionStorage.removeItem(KEY_STORAGE);
  }
}

async function call(path, { method = "GET", body = undefined } = {}) {
  const headers = { accept: "application/json, application/problem+json" };
  if (body !== undefined) {
    headers["content-type"] = "application/json";
  }
  const key = storedKey();
  if (key) {
    headers["X-API-Key"] = key;
  }
  let response;
  try {
    response = await fetch(path, { method, headers, body, cache: "no-store", credentials: "same-origin" });
  } catch {
    throw new ApiError(0, {
      title: "The service could not be reached",
      detail: "Nothing was computed. Check that the service is running, then try again.",
    });
  }
  let answer = null;
  try {
    answer = await response.json();
  } catch {
    answer = null;
  }
  if (!response.ok) {
    const problem = answer && typeof answer === "object" ? answer : {};
    throw new ApiError(response.status, {
      title: problem.title || `The service answered ${response.status}`,
      detail: problem.detail || "",
      errors: Array.isArray(problem.errors) ? problem.errors : [],
      suggestion: problem.suggestion,
    });
  }
  if (answer === null) {
    throw new ApiError(response.status, { title: "The service's answer could not be read", detail: "" });
  }
  return answer;
}

/** GET /v1/formulary: the agents, strengths, syringes and policy in force. */
export function getFormulary() {
  return call("/v1/formulary");
}

/** POST /v1/mixtures: the plan and its checks for one request. */
export function postMixture(request) {
  return call("/v1/mixtures", { method: "POST", body: JSON.stringify(request) });
}
