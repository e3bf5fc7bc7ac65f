// The content script on web.whatsapp.com (loaded as a module by content.js). It reads rows and shows the
// panel; it never talks to the agent itself: everything goes through the background (runtime messages).

import { ext } from "../lib/browser.js";
import { MSG } from "../lib/messages.js";
import { DraftState } from "../lib/draft.js";
import { browserI18n } from "../lib/i18n.js";
import { eventConcernsChat } from "../lib/parse.js";
import { insertIntoCompose } from "./compose.js";
import { Panel } from "./panel.js";
import { QuickReplyPicker } from "./quick-picker.js";
import { ChatWatcher } from "./watcher.js";

const HEALTH_HEARTBEAT_MS = 30_000;
const POLL_WITHOUT_LIVE_MS = 15_000; // no WebSocket (e.g. Firefox): refresh the panel by polling instead
const REFRESH_DEBOUNCE_MS = 250;
const SEND_RETRIES = 3;

export function main(doc = document) {
  const content = new ContentScript(doc);
  content.start();
  return content;
}

class ContentScript {
  #doc;
  #state = { paired: false, paused: false, collapsed: false, reachable: null, live: false, queued: 0 };
  #panel;
  #watcher;
  #picker;
  #draft = new DraftState();
  #draftChatId = null; // the chat the draft answers: switching chats drops it
  #panelData = null; // the last panel answer: its conversation id matches analysis events
  #refreshTimer = null;

  constructor(doc) {
    this.#doc = doc;
    // The panel speaks the browser's language (chrome.i18n picks the catalog): docs/decisions.md
    // "Languages in the extension" says why not the agent's ui.language.
    const i18n = browserI18n(ext);
    this.#panel = new Panel({
      doc,
      i18n,
      onInsert: (text) => insertIntoCompose(doc, text),
      onCollapse: (collapsed) => send({ type: MSG.PANEL_SET_COLLAPSED, collapsed }),
      onOpenOptions: () => send({ type: MSG.OPEN_OPTIONS }),
      draft: this.#draft,
      onDraft: (messageId) => this.#startDraft(messageId),
      onDraftCancel: () => this.#cancelDraft(),
    });
    this.#picker = new QuickReplyPicker({
      doc,
      i18n,
      // Not paired: no request at all (nothing shows); unreachable: the background answers offline (nothing shows).
      ask: (prefix, chatId) => (this.#state.paired
        ? send({ type: MSG.QUICK_REPLIES, prefix, chat_id: chatId }) : Promise.resolve(null)),
      chatId: () => this.#watcher.chat.chatId,
    });
    this.#watcher = new ChatWatcher({
      doc,
      onCaptures: (captures) => this.#sendCaptures(captures),
      onChat: () => this.#refreshPanel(),
      onHealth: (report) => send({ type: MSG.HEALTH, report }),
    });
  }

  async start() {
    ext.runtime.onMessage.addListener((message) => this.#onBackgroundMessage(message));
    const answer = await send({ type: MSG.STATE_GET });
    if (answer?.state) this.#state = answer.state;
    this.#panel.mount();
    this.#panel.setCollapsed(Boolean(this.#state.collapsed));
    this.#watcher.start({ paused: Boolean(this.#state.paused) });
    this.#picker.start();
    setInterval(() => send({ type: MSG.HEALTH, report: this.#watcher.healthReport() }), HEALTH_HEARTBEAT_MS);
    setInterval(() => {
      if (!this.#state.live && this.#doc.visibilityState === "visible") this.#refreshPanel();
    }, POLL_WITHOUT_LIVE_MS);
    this.#refreshPanel();
  }

  #onBackgroundMessage(message) {
    if (message?.type === MSG.STATE_CHANGED && message.state) {
      const before = this.#state;
      this.#state = message.state;
      this.#watcher.setPaused(Boolean(message.state.paused), message.state.pausedChangedAt ?? null);
      if (before.paused !== message.state.paused) send({ type: MSG.HEALTH, report: this.#watcher.healthReport() });
      if (before.paired !== message.state.paired || before.reachable !== message.state.reachable
        || before.paused !== message.state.paused) {
        this.#refreshPanelSoon();
      }
    } else if (message?.type === MSG.AGENT_EVENT && message.event?.type?.startsWith("reply.draft.")) {
      this.#draftEvent(message.event);
    } else if (message?.type === MSG.AGENT_EVENT) {
      const chat = this.#watcher.chat;
      if (chat.chatId && eventConcernsChat(message.event, chat.chatId, this.#panelData?.conversation?.id ?? null)) {
        this.#refreshPanelSoon();
      }
    }
    return false; // no answer to send
  }

  // The background may be waking up (MV3): a failed hand-over is retried a few times before giving up.
  async #sendCaptures(captures, attempt = 0) {
    const answer = await send({ type: MSG.CAPTURE, captures });
    if (answer === null && attempt < SEND_RETRIES) {
      setTimeout(() => this.#sendCaptures(captures, attempt + 1), 1000 * (attempt + 1));
    }
  }

  #refreshPanelSoon() {
    clearTimeout(this.#refreshTimer);
    this.#refreshTimer = setTimeout(() => this.#refreshPanel(), REFRESH_DEBOUNCE_MS);
  }

  // -- Draft with AI: started and cancelled through the background; its text arrives as reply.draft.* events ------

  async #startDraft(messageId) {
    if (this.#draft.running) return;
    this.#draftChatId = this.#watcher.chat.chatId;
    this.#draft.start(messageId);
    this.#panel.refresh();
    const answer = await send({ type: MSG.DRAFT_START, message_id: messageId });
    if (this.#draft.messageId !== messageId) return; // dropped meanwhile (chat switched)
    if (this.#draft.status === "cancelled" && answer?.ok) {
      send({ type: MSG.DRAFT_CANCEL, draft_id: answer.draft_id }); // cancelled before the agent said its id
      return;
    }
    this.#draft.started(answer);
    this.#panel.refresh();
  }

  #cancelDraft() {
    const draftId = this.#draft.draftId;
    if (!this.#draft.cancelled()) return;
    if (draftId) send({ type: MSG.DRAFT_CANCEL, draft_id: draftId });
    this.#panel.refresh();
  }

  #draftEvent(event) {
    const before = this.#draft.status;
    if (!this.#draft.apply(event)) return;
    if (event.type === "reply.draft.token" && before === this.#draft.status) this.#panel.updateDraftText();
    else this.#panel.refresh();
  }

  #dropDraftOfAnotherChat(chatId) {
    if (this.#draft.status === "idle" || this.#draftChatId === chatId) return;
    this.#cancelDraft();
    this.#draft.reset();
  }

  async #refreshPanel() {
    const chat = this.#watcher.chat;
    this.#dropDraftOfAnotherChat(chat.chatId);
    const agent = { paused: this.#state.paused, queued: this.#state.queued };
    if (!chat.open) return this.#panel.render({ state: "hidden" });
    if (!this.#state.paired) return this.#panel.render({ state: "unpaired", agent });
    if (!chat.chatId) return this.#panel.render({ state: "empty", agent });
    if (this.#panelData?.chat_id !== chat.chatId) this.#panel.render({ state: "loading", agent });
    const answer = await send({ type: MSG.PANEL_GET, chat_id: chat.chatId });
    if (this.#watcher.chat.chatId !== chat.chatId) return undefined; // the user moved on meanwhile
    if (answer?.ok) {
      this.#panelData = answer.data;
      this.#state.live = Boolean(answer.live);
      return this.#panel.render({ state: "ok", data: answer.data, agent });
    }
    return this.#panel.render({ state: answer?.state ?? "offline", error: answer?.error, agent });
  }
}

/** runtime.sendMessage that resolves to null instead of throwing (background restarting, extension reloaded). */
async function send(message) {
  try {
    return (await ext.runtime.sendMessage(message)) ?? null;
  } catch {
    return null;
  }
}
