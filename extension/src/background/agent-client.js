// HTTP to the agent. Only the background calls this: its requests carry the extension's Origin and skip
// CORS thanks to host_permissions, which a content script on web.whatsapp.com could not do (Local Network
// Access). Every call resolves to a plain outcome object and never throws, so callers branch on data.

const DEFAULT_TIMEOUT_MS = 10_000;

/**
 * request(baseUrl, path, {method, token, body, timeoutMs}) ->
 *   {ok, status, data, error: {code, message, details?} | null, retryAfterMs}
 * status 0 means the agent could not be reached (refused, timed out, DNS, TLS).
 */
export async function requestAgent(baseUrl, path, { method = "GET", token = null, body, timeoutMs = DEFAULT_TIMEOUT_MS,
  fetchImpl = globalThis.fetch } = {}) {
  const headers = { Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  let response;
  try {
    response = await fetchImpl(`${baseUrl}${path}`, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      signal: controller.signal, credentials: "omit", cache: "no-store",
    });
  } catch (error) {
    const timedOut = error?.name === "AbortError";
    return unreachable(timedOut ? "The agent did not answer in time" : "The agent is not reachable");
  } finally {
    clearTimeout(timer);
  }
  const data = await readJson(response);
  const ok = response.ok;
  return {
    ok,
    status: response.status,
    data: ok ? data : null,
    error: ok ? null : errorFrom(response.status, data),
    retryAfterMs: retryAfterMs(response.headers.get("Retry-After")),
  };
}

function unreachable(message) {
  return { ok: false, status: 0, data: null, error: { code: "agent_unreachable", message }, retryAfterMs: 0 };
}

async function readJson(response) {
  try {
    const text = await response.text();
    return text ? JSON.parse(text) : null;
  } catch {
    return null;
  }
}

function errorFrom(status, data) {
  const error = data?.error;
  if (error && typeof error.code === "string") return error;
  return { code: `http_${status}`, message: `The agent answered HTTP ${status}` };
}

function retryAfterMs(header) {
  const seconds = Number(header);
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 0;
}

/** 401 codes after which the token is useless: it was revoked or the agent no longer knows it. */
export function isTokenRejected(outcome) {
  return outcome.status === 401;
}
