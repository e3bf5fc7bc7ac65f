// The chrome.runtime message types between the content script, the options page, the popup and the
// background (which alone talks to the agent). Shapes are documented in extension/README.md.
export const MSG = Object.freeze({
  // content script -> background
  CAPTURE: "capture", // {captures: [captureBody]} -> {ok, added, duplicates, queued} | {ok: false, paused: true}
  HEALTH: "health", // {report: {state, reason, rows_seen, selectors_version}} -> {ok}
  PANEL_GET: "panel.get", // {chat_id} -> {ok, state: "ok"|"unpaired"|"offline"|"error", data?, error?}
  PANEL_SET_COLLAPSED: "panel.setCollapsed", // {collapsed} -> {ok}
  OPEN_OPTIONS: "options.open", // {} -> {ok}
  QUICK_REPLIES: "quickReplies.get", // {prefix, chat_id?} -> {ok, items: [{id, shortcut, title, text}]} | {ok: false, state}
  DRAFT_START: "draft.start", // {message_id} -> {ok, draft_id, message_id, knowledge} | {ok: false, state, error}
  DRAFT_CANCEL: "draft.cancel", // {draft_id} -> {ok} | {ok: false, state, error}
  // any extension context -> background
  STATE_GET: "state.get", // {probe?: bool} -> {ok, state: publicState}
  // options page / popup -> background
  AGENT_FIND: "agent.find", // {agent_url} -> {ok, reachable, agent_url, health?, error?}
  PAIR_START: "pair.start", // {agent_url} -> {ok, pairing_id, expires_at, code_length} | {ok: false, error}
  PAIR_COMPLETE: "pair.complete", // {code} -> {ok, extension} | {ok: false, error: {code, message, details}}
  UNPAIR: "unpair", // {} -> {ok}
  PAUSE_SET: "pause.set", // {paused} -> {ok, state}
  DASHBOARD_OPEN: "dashboard.open", // {} -> {ok} | {ok: false, error: {code: "no_desktop" | ...}}
  QUEUE_FLUSH: "queue.flush", // {} -> {ok, result}
  // background -> content scripts (tabs.sendMessage) and extension pages (runtime.sendMessage)
  STATE_CHANGED: "state.changed", // {state: publicState}
  AGENT_EVENT: "agent.event", // {event: {type, id, ts, data}} (message.captured, analysis.completed, capture.state,
  // reply.draft.*)
});

/** Messages a content script may send: it never pairs, unpairs, pauses or opens the dashboard. */
export const CONTENT_MESSAGES = new Set([
  MSG.CAPTURE, MSG.HEALTH, MSG.PANEL_GET, MSG.PANEL_SET_COLLAPSED, MSG.OPEN_OPTIONS, MSG.STATE_GET,
  MSG.QUICK_REPLIES, MSG.DRAFT_START, MSG.DRAFT_CANCEL,
]);
