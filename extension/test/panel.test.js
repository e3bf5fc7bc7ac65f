// The panel's grounded suggestion and its Draft with AI section, drawn on a jsdom page.
import { afterEach, beforeEach, test } from "node:test";
import assert from "node:assert/strict";
import { JSDOM } from "jsdom";
import { DraftState } from "../src/lib/draft.js";
import { Panel } from "../src/content/panel.js";
import { catalogI18n } from "./locales.js";

let dom;
let doc;
let calls;
let draft;
let panel;

const DATA = {
  chat_id: "5511987654321@c.us",
  customer: { id: 1, name: "Maria Silva", phone: "+5511987654321", tags: [], status: "lead", message_count: 1 },
  conversation: { id: 1, status: "open", message_count: 1 },
  latest: { id: 42, message_id: "false_x_y", preview: "quanto é o frete pra BH?", analysis: {
    sentiment: { label: "neutral" }, intent: { label: "pricing", confidence: 0.9 },
    suggested_responses: ["O frete para BH é R$ 25 e chega em 3 dias úteis.", "Posso ajudar em algo mais?"],
    knowledge: { entry_id: 3, title: "Frete para BH", score: 0.83, language: "pt" } } },
};

beforeEach(() => {
  dom = new JSDOM("<!doctype html><body></body>");
  doc = dom.window.document;
  calls = [];
  draft = new DraftState();
  panel = new Panel({ doc, i18n: catalogI18n("en"), draft, onInsert: (text) => { calls.push(["insert", text]); return true; },
    onCollapse: () => {}, onOpenOptions: () => {}, onDraft: (id) => calls.push(["draft", id]),
    onDraftCancel: () => calls.push(["cancel"]) });
  panel.mount();
});

afterEach(() => dom.window.close());

const root = () => panel.host.shadowRoot;
const q = (selector) => root().querySelector(selector);

test("the first suggestion of a grounded analysis says which knowledge entry it came from", () => {
  panel.render({ state: "ok", data: DATA, agent: {} });
  const replies = root().querySelectorAll(".reply");
  assert.equal(replies[0].querySelector('[data-role="knowledge-source"]').textContent, "From your knowledge: Frete para BH");
  assert.equal(replies[0].getAttribute("data-grounded"), "true");
  assert.equal(replies[1].querySelector('[data-role="knowledge-source"]'), null);
  const plain = structuredClone(DATA);
  plain.latest.analysis.knowledge = null;
  panel.render({ state: "ok", data: plain, agent: {} });
  assert.equal(q('[data-role="knowledge-source"]'), null);
});

test("Draft with AI: start, streamed text, cancel keeps the text, Insert puts it in the box", () => {
  panel.render({ state: "ok", data: DATA, agent: {} });
  assert.equal(q('[data-role="draft"]').dataset.status, "idle");
  q('[data-action="draft"]').click();
  assert.deepEqual(calls, [["draft", 42]]); // the chat's latest inbound message
  draft.start(42);
  draft.started({ ok: true, draft_id: "d1" });
  panel.refresh();
  assert.equal(q('[data-role="draft-text"]').textContent, "Writing…");
  draft.apply({ type: "reply.draft.token", data: { draft_id: "d1", text: "O frete" } });
  const textElement = q('[data-role="draft-text"]');
  panel.updateDraftText();
  assert.equal(q('[data-role="draft-text"]'), textElement, "a token redraws only the text");
  assert.equal(textElement.textContent, "O frete");
  assert.equal(q('[data-action="draft-insert"]'), null, "no Insert while it runs");
  q('[data-action="draft-cancel"]').click();
  assert.deepEqual(calls.at(-1), ["cancel"]);
  draft.cancelled();
  panel.refresh();
  q('[data-action="draft-insert"]').click();
  assert.deepEqual(calls.at(-1), ["insert", "O frete"]);
  assert.match(q('[data-role="draft-feedback"]').textContent, /press Enter to send/);
});

test("a completed draft shows its figures; llm_disabled and other errors are said plainly", () => {
  panel.render({ state: "ok", data: DATA, agent: {} });
  draft.start(42);
  draft.started({ ok: true, draft_id: "d1" });
  draft.apply({ type: "reply.draft.completed", data: { draft_id: "d1", text: "Pronto.", tokens: 4, tokens_per_s: 21.5 } });
  panel.refresh();
  assert.equal(q('[data-role="draft-text"]').textContent, "Pronto.");
  assert.equal(q('[data-role="draft-stats"]').textContent, "4 tokens, 21.5 tokens/s");
  draft.start(42);
  draft.started({ ok: false, state: "error", error: { code: "llm_disabled", message: "off" } });
  panel.refresh();
  assert.match(q('[data-role="draft-error"]').textContent, /AI drafts are off/);
  assert.equal(q('[data-action="draft"]').textContent, "Try again");
});

test("no Draft button without a customer message", () => {
  panel.render({ state: "ok", data: { ...DATA, latest: null }, agent: {} });
  assert.equal(q('[data-action="draft"]'), null);
  assert.equal(q('[data-role="draft"]').dataset.status, "none");
});

test("a redraw keeps the panel's scroll position (the draft is read at the bottom while it changes)", () => {
  panel.render({ state: "ok", data: DATA, agent: {} });
  q(".body").scrollTop = 120; // jsdom keeps the value it is given
  panel.refresh();
  assert.equal(q(".body").scrollTop, 120);
});
