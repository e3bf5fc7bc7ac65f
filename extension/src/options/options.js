// The options page: find the agent, pair with the code shown on the desktop, or forget the agent.
// It calls only the background (runtime messages); the background makes every request.

import { ext } from "../lib/browser.js";
import { describeError } from "../lib/errors.js";
import { browserI18n, localizePage } from "../lib/i18n.js";
import { MSG } from "../lib/messages.js";

const AGENT_ORIGINS = ["http://127.0.0.1/*", "http://localhost/*", "https://web.whatsapp.com/*"];
const $ = (selector) => document.querySelector(selector);
const i18n = browserI18n(ext);

const ui = {
  status: $('[data-role="status"]'),
  agentUrl: $('input[name="agent_url"]'),
  agentInfo: $('[data-role="agent"]'),
  pairButton: $('[data-action="pair"]'),
  codeForm: $('[data-role="code-form"]'),
  code: $('input[name="code"]'),
  confirm: $('[data-action="confirm"]'),
  error: $('[data-role="error"]'),
  pairCard: $('[data-role="pair-card"]'),
  pairedCard: $('[data-role="paired-card"]'),
  pairedInfo: $('[data-role="paired-info"]'),
  unpair: $('[data-action="unpair"]'),
};

async function ask(message) {
  try {
    return (await ext.runtime.sendMessage(message)) ?? { ok: false, error: { code: "no_answer" } };
  } catch (error) {
    return { ok: false, error: { message: String(error?.message ?? error) } };
  }
}

function showStatus(state) {
  let dataState = "unpaired";
  let text;
  if (state.paired) {
    dataState = "paired";
    text = state.extension?.name
      ? i18n.t("options_status_paired_as", state.agentUrl, state.extension.name)
      : i18n.t("options_status_paired", state.agentUrl);
  } else if (state.pairing) {
    dataState = "pairing";
    text = i18n.t("options_status_pairing");
  } else if (state.lastError) {
    text = i18n.t("options_status_not_paired_because", describeError(state.lastError, i18n));
  } else {
    text = i18n.t("options_status_not_paired");
  }
  ui.status.dataset.state = dataState;
  ui.status.textContent = text;
  ui.pairedCard.hidden = !state.paired;
  ui.pairedInfo.textContent = !state.paired ? ""
    : state.extension?.paired_at ? i18n.t("options_paired_info_since", state.agentUrl, i18n.dateTime(state.extension.paired_at))
      : i18n.t("options_paired_info", state.agentUrl);
  ui.codeForm.hidden = !state.pairing;
  ui.pairButton.textContent = state.paired ? i18n.t("options_pair_again") : i18n.t("options_pair_button");
}

function showError(error) {
  ui.error.textContent = error ? describeError(error, i18n, ui.agentUrl.value.trim()) : "";
}

async function findAgent() {
  ui.agentInfo.textContent = i18n.t("options_looking");
  ui.agentInfo.className = "muted";
  const asked = ui.agentUrl.value;
  const answer = await ask({ type: MSG.AGENT_FIND, agent_url: asked });
  // The user typed another address while this one was looked up: the answer is about an address no longer
  // shown, and writing it back would replace what they typed (and pair with the wrong agent).
  if (ui.agentUrl.value !== asked) return false;
  if (!answer.ok) {
    ui.agentInfo.textContent = describeError(answer.error, i18n);
    ui.agentInfo.className = "error";
    return false;
  }
  ui.agentUrl.value = answer.agent_url;
  const version = answer.health?.version;
  ui.agentInfo.textContent = !answer.reachable ? describeError({ code: "agent_unreachable" }, i18n, answer.agent_url)
    : version ? i18n.t("options_agent_found_version", answer.agent_url, version)
      : i18n.t("options_agent_found", answer.agent_url);
  ui.agentInfo.className = answer.reachable ? "ok" : "error";
  return answer.reachable;
}

// Firefox may leave MV3 host permissions to the user; a request must run inside the click itself, so
// whether they are already granted is learnt beforehand (hostPermissionsGranted, set by init).
let hostPermissionsGranted = false;

async function checkHostPermissions() {
  if (!ext.permissions?.contains) return true;
  return ext.permissions.contains({ origins: AGENT_ORIGINS }).catch(() => false);
}

function requestHostPermissions() {
  if (hostPermissionsGranted || !ext.permissions?.request) return Promise.resolve(true);
  return ext.permissions.request({ origins: AGENT_ORIGINS }).catch(() => false);
}

async function startPairing() {
  const permitted = requestHostPermissions();
  showError(null);
  ui.pairButton.disabled = true;
  try {
    if (!(await permitted)) {
      showError({ message: i18n.t("options_needs_permissions") });
      return;
    }
    const answer = await ask({ type: MSG.PAIR_START, agent_url: ui.agentUrl.value });
    if (!answer.ok) {
      showError(answer.error);
      await refresh();
      return;
    }
    // The agent answered at this address: whatever an earlier check said about another address is stale.
    ui.agentInfo.textContent = i18n.t("options_agent_found", ui.agentUrl.value.trim());
    ui.agentInfo.className = "ok";
    ui.status.dataset.state = "pairing";
    ui.status.textContent = i18n.t("options_status_pairing");
    ui.codeForm.hidden = false;
    ui.code.value = "";
    ui.code.focus();
  } finally {
    ui.pairButton.disabled = false;
  }
}

async function confirmCode(event) {
  event.preventDefault();
  showError(null);
  ui.confirm.disabled = true;
  try {
    const answer = await ask({ type: MSG.PAIR_COMPLETE, code: ui.code.value });
    if (!answer.ok) {
      showError(answer.error);
      if (answer.error?.code === "wrong_code" || answer.error?.code === "bad_code") ui.code.select();
    }
    await refresh();
  } finally {
    ui.confirm.disabled = false;
  }
}

async function unpair() {
  showError(null);
  await ask({ type: MSG.UNPAIR });
  await refresh();
}

async function refresh({ probe = false } = {}) {
  const answer = await ask({ type: MSG.STATE_GET, probe });
  if (answer.ok) showStatus(answer.state);
  return answer.state;
}

async function init() {
  localizePage(document, i18n);
  ui.pairButton.addEventListener("click", startPairing);
  ui.codeForm.addEventListener("submit", confirmCode);
  ui.unpair.addEventListener("click", unpair);
  $('[data-action="find"]').addEventListener("click", findAgent);
  // A typed address has not been checked yet: clear the verdict about the previous one.
  ui.agentUrl.addEventListener("input", () => {
    ui.agentInfo.textContent = "";
    ui.agentInfo.className = "muted";
  });
  ext.runtime.onMessage.addListener((message) => {
    if (message?.type === MSG.STATE_CHANGED && message.state) showStatus(message.state);
    return false;
  });
  hostPermissionsGranted = await checkHostPermissions();
  const typedBefore = ui.agentUrl.value;
  const state = await refresh({ probe: true });
  // The stored address fills the field unless the user has already typed one while the page was starting.
  if (state?.agentUrl && ui.agentUrl.value === typedBefore) ui.agentUrl.value = state.agentUrl;
  await findAgent();
}

init();
