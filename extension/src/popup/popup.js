// The toolbar popup: the state at a glance, pause, open the desktop dashboard, go to the options page.

import { ext } from "../lib/browser.js";
import { relativeTime } from "../lib/dom.js";
import { describeError } from "../lib/errors.js";
import { MSG } from "../lib/messages.js";

const $ = (selector) => document.querySelector(selector);
const field = (name) => $(`[data-field="${name}"]`);

async function ask(message) {
  try {
    return (await ext.runtime.sendMessage(message)) ?? { ok: false, error: { message: "No answer from the extension" } };
  } catch (error) {
    return { ok: false, error: { message: String(error?.message ?? error) } };
  }
}

function show(state) {
  const reachable = state.reachable === null ? "checking…" : state.reachable ? "reachable" : "offline";
  field("reachable").textContent = `${reachable} (${state.agentUrl})`;
  field("reachable").dataset.value = String(state.reachable);
  field("paired").textContent = state.paired ? "yes" : state.lastError ? "no: pair again" : "no";
  field("paired").dataset.value = String(state.paired);
  field("queued").textContent = String(state.queued);
  field("last_capture").textContent = relativeTime(state.lastCaptureAt);
  const health = state.health?.state === "stalled" ? " (stalled: WhatsApp Web changed?)" : "";
  // Unpaired, nothing reaches the agent: "on" would promise captures that are not being made.
  field("paused").textContent = !state.paired ? "off (not paired)" : state.paused ? "paused" : `on${health}`;
  field("paused").dataset.value = String(state.paused);
  $('[data-action="pause"]').checked = state.paused;
  $('[data-action="open-dashboard"]').disabled = !state.paired;
}

function showError(error) {
  $('[data-role="error"]').textContent = error ? describeError(error) : "";
}

async function init() {
  $('[data-action="pause"]').addEventListener("change", async (event) => {
    const answer = await ask({ type: MSG.PAUSE_SET, paused: event.target.checked });
    if (answer.ok) show(answer.state);
  });
  $('[data-action="open-dashboard"]').addEventListener("click", async () => {
    showError(null);
    const answer = await ask({ type: MSG.DASHBOARD_OPEN });
    if (answer.ok) window.close();
    else showError(answer.error);
  });
  $('[data-action="open-options"]').addEventListener("click", () => {
    ext.runtime.openOptionsPage();
    window.close();
  });
  ext.runtime.onMessage.addListener((message) => {
    if (message?.type === MSG.STATE_CHANGED && message.state) show(message.state);
    return false;
  });
  const first = await ask({ type: MSG.STATE_GET });
  if (first.ok) show(first.state);
  const probed = await ask({ type: MSG.STATE_GET, probe: true });
  if (probed.ok) show(probed.state);
  else showError(probed.error);
}

init();
