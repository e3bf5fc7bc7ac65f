// The agent's address: only loopback over http, because host_permissions cover exactly those origins
// (a request elsewhere would be a CORS request the agent refuses, and the token must not leave the machine).

export const DEFAULT_AGENT_URL = "http://127.0.0.1:8080";
const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost"]);

/** Normalize what the user typed ("127.0.0.1:8080/", "http://localhost:9000") or throw a readable Error. */
export function normalizeAgentUrl(input) {
  let text = String(input ?? "").trim();
  if (!text) return DEFAULT_AGENT_URL;
  if (!/^[a-z]+:\/\//i.test(text)) text = `http://${text}`;
  let url;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`Not a valid address: ${input}`);
  }
  if (url.protocol !== "http:") throw new Error("The agent is reached over http:// on this computer");
  if (!LOOPBACK_HOSTS.has(url.hostname)) throw new Error("The agent must be on this computer (127.0.0.1 or localhost)");
  return url.origin;
}

/** The WebSocket address of an agent URL (the token goes in the first message, never here). */
export function websocketUrl(agentUrl) {
  const url = new URL(agentUrl);
  url.protocol = "ws:";
  url.pathname = "/ws";
  return url.toString();
}
