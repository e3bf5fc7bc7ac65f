// The toolbar popup: the state at a glance, pause, open the desktop dashboard, go to the options page.

import { ext } from "../lib/browser.js";
import { describeError } from "../lib/errors.js";
import { browserI18n, localizePage } from "../lib/i18n.js";
import { MSG } from "../lib/messages.js";

const $ = (selector) => document.querySelector(selector);
const field = (name) => $(`[data-field="${name}"]`);
const i18n = browserI18n(ext);

async function ask(message) {
  try {
    return (await ext.runtime.sendMessage(message)) ?? { ok: false, error: { code: "no_answer" } };
  } catch (error) {
    return { ok: false, error: { message: String(error?.message ?? error) } };
  }
}

function show(state) {
  const reachable = state.reachable === null ? i18n.t("popup_agent_checking", state.agentUrl)
    : state.reachable ? i18n.t("popup_agent_reachable", state.agentUrl) : i18n.t("popup_agent_offline", state.agentUrl);
  field("reachable").textContent = reachable;
  field("reachable").dataset.value = String(state.reachable);
  field("paired").textContent = state.paired ? i18n.t("popup_yes") : state.lastError ? i18n.t("popup_no_pair_again") : i18n.t("popup_no");
  field("paired").dataset.value = String(state.paired);
  field("queued").textContent = i18n.plural("popup_queued_messages", state.queued ?? 0);
  field("last_capture").textContent = i18n.relativeTime(state.lastCaptureAt);
  // Unpaired, nothing reaches the agent: "on" would promise captures that are not being made.
  field("paused").textContent = !state.paired ? i18n.t("popup_capture_off") : state.paused ? i18n.t("popup_capture_paused")
    : state.health?.state === "stalled" ? i18n.t("popup_capture_stalled") : i18n.t("popup_capture_on");
  field("paused").dataset.value = String(state.paused);
  $('[data-action="pause"]').checked = state.paused;
  $('[data-action="open-dashboard"]').disabled = !state.paired;
}

function showError(error) {
  $('[data-role="error"]').textContent = error ? describeError(error, i18n) : "";
}

async function init() {
  localizePage(document, i18n);
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
