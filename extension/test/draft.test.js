// "Draft with AI"'s state machine: the POST answer, the streamed events, cancel, errors, early events.
import { test } from "node:test";
import assert from "node:assert/strict";
import { DraftState, draftErrorText } from "../src/lib/draft.js";
import { catalogI18n } from "./locales.js";

const en = catalogI18n("en");

const token = (draftId, text) => ({ type: "reply.draft.token", data: { draft_id: draftId, text } });

test("tokens grow the text until completed, which gives the final text and figures", () => {
  const draft = new DraftState();
  assert.equal(draft.status, "idle");
  draft.start(42);
  assert.equal(draft.running, true);
  assert.equal(draft.started({ ok: true, draft_id: "d1", message_id: 42, knowledge: [] }), true);
  assert.equal(draft.status, "streaming");
  assert.equal(draft.apply({ type: "reply.draft.started", data: { draft_id: "d1", model: "m" } }), false);
  assert.equal(draft.apply(token("d1", "O frete")), true);
  assert.equal(draft.apply(token("d1", " é R$ 25")), true);
  assert.equal(draft.text, "O frete é R$ 25");
  assert.equal(draft.insertable, false); // still running
  draft.apply({ type: "reply.draft.completed",
    data: { draft_id: "d1", text: "O frete é R$ 25.", tokens: 9, ttft_ms: 120, tokens_per_s: 30 } });
  assert.equal(draft.status, "done");
  assert.equal(draft.text, "O frete é R$ 25.");
  assert.deepEqual(draft.stats, { tokens: 9, ttft_ms: 120, tokens_per_s: 30 });
  assert.equal(draft.insertable, true);
  assert.equal(draft.apply(token("d1", "late")), false);
  assert.equal(draft.text, "O frete é R$ 25.");
});

test("another draft's events are ignored", () => {
  const draft = new DraftState();
  draft.start(1);
  draft.started({ ok: true, draft_id: "mine" });
  assert.equal(draft.apply(token("theirs", "x")), false);
  assert.equal(draft.apply({ type: "analysis.completed", data: { draft_id: "mine" } }), false);
  assert.equal(draft.text, "");
});

test("events that arrive before the POST's answer are replayed once the draft id is known", () => {
  const draft = new DraftState();
  draft.start(7);
  assert.equal(draft.apply(token("d7", "Olá")), false);
  draft.apply(token("other", "não"));
  draft.apply(token("d7", ", Maria"));
  draft.started({ ok: true, draft_id: "d7" });
  assert.equal(draft.text, "Olá, Maria");
  assert.equal(draft.status, "streaming");
});

test("cancel keeps the partial text, insertable; later tokens change nothing", () => {
  const draft = new DraftState();
  draft.start(1);
  draft.started({ ok: true, draft_id: "d" });
  draft.apply(token("d", "Parte"));
  assert.equal(draft.cancelled(), true);
  assert.equal(draft.status, "cancelled");
  assert.equal(draft.apply(token("d", " mais")), false);
  assert.equal(draft.text, "Parte");
  assert.equal(draft.insertable, true);
  assert.equal(draft.cancelled(), false);
});

test("a refused start and a failed event end the draft with the error", () => {
  const refused = new DraftState();
  refused.start(1);
  refused.started({ ok: false, error: { code: "llm_disabled", message: "The LLM is off" } });
  assert.equal(refused.status, "failed");
  assert.match(draftErrorText(refused.error, en), /AI settings/);
  const unreachable = new DraftState();
  unreachable.start(1);
  unreachable.started(null);
  assert.equal(draftErrorText(unreachable.error, en), "The agent is not reachable.");

  const failed = new DraftState();
  failed.start(1);
  failed.started({ ok: true, draft_id: "d" });
  failed.apply({ type: "reply.draft.failed", data: { draft_id: "d", error: "model_crashed" } });
  assert.equal(failed.status, "failed");
  assert.equal(failed.error.code, "model_crashed");
  failed.reset();
  assert.equal(failed.status, "idle");
  assert.equal(failed.text, "");
  assert.equal(draftErrorText({ code: "x", message: "Plain words" }, en), "Plain words");
  assert.equal(draftErrorText({ code: "x" }, en), "The draft failed (x).");
});
