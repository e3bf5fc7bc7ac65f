// The content script's row reading against a DOM (jsdom) shaped like WhatsApp Web's stable attributes.
import { afterEach, beforeEach, test } from "node:test";
import assert from "node:assert/strict";
import { JSDOM } from "jsdom";
import { ChatWatcher, MEASURE_BATCH } from "../src/content/watcher.js";
import { insertIntoCompose } from "../src/content/compose.js";
import { STALL_REASONS } from "../src/content/stall.js";

let dom;
let doc;
let watchers;

beforeEach(() => {
  dom = new JSDOM("<!doctype html><body><div id='app'><div id='pane-side'></div></div></body>");
  doc = dom.window.document;
  globalThis.MutationObserver = dom.window.MutationObserver;
  watchers = [];
});

afterEach(() => {
  for (const watcher of watchers) watcher.stop();
  dom.window.close();
});

function openChatElement(title, rows = []) {
  const main = doc.createElement("div");
  main.id = "main";
  const header = doc.createElement("header");
  const span = doc.createElement("span");
  span.setAttribute("title", title);
  header.append(span);
  const list = doc.createElement("div");
  list.setAttribute("role", "application");
  for (const row of rows) list.append(rowElement(...row));
  const footer = doc.createElement("footer");
  const box = doc.createElement("div");
  box.setAttribute("contenteditable", "true");
  footer.append(box);
  main.append(header, list, footer);
  doc.getElementById("main")?.remove();
  doc.getElementById("app").append(main);
  return list;
}

function rowElement(dataId, text, pre = "[10:32, 05/12/2024] Ana: ", extraHtml = "") {
  const row = doc.createElement("div");
  row.setAttribute("data-id", dataId);
  const copyable = doc.createElement("div");
  copyable.className = "copyable-text";
  copyable.setAttribute("data-pre-plain-text", pre);
  if (text !== null) {
    const span = doc.createElement("span");
    span.className = "selectable-text copyable-text";
    span.textContent = text;
    copyable.append(span);
  }
  row.append(copyable);
  if (extraHtml) row.insertAdjacentHTML("beforeend", extraHtml); // test markup only
  return row;
}

function watch(options = {}) {
  const sent = [];
  const health = [];
  const chats = [];
  const watcher = new ChatWatcher({
    doc, onCaptures: (captures) => sent.push(...captures), onHealth: (report) => health.push(report),
    onChat: (chat) => chats.push(chat), ...options,
  });
  watchers.push(watcher);
  return { watcher, sent, health, chats };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

test("the visible history is captured when a chat opens, with the capture fields", async () => {
  openChatElement("Ana Souza", [
    ["false_5511987654321@c.us_A1", "Olá"],
    ["true_5511987654321@c.us_A2", "Bom dia"],
  ]);
  const { watcher, sent, chats } = watch();
  watcher.start();
  assert.deepEqual(sent.map((c) => [c.message_id, c.direction, c.content, c.chat_name, c.phone]), [
    ["false_5511987654321@c.us_A1", "in", "Olá", "Ana Souza", "+5511987654321"],
    ["true_5511987654321@c.us_A2", "out", "Bom dia", "Ana Souza", "+5511987654321"],
  ]);
  assert.equal(chats.at(-1).chatId, "5511987654321@c.us");
});

test("new rows are read once, even when WhatsApp re-adds them", async () => {
  const list = openChatElement("Ana", [["false_5511987654321@c.us_A1", "one"]]);
  const { watcher, sent } = watch();
  watcher.start();
  list.append(rowElement("false_5511987654321@c.us_A2", "two"));
  await settle();
  const again = list.firstElementChild;
  again.remove();
  list.prepend(again);
  list.append(rowElement("false_5511987654321@c.us_A2", "two"));
  await settle();
  assert.deepEqual(sent.map((c) => c.content), ["one", "two"]);
});

test("media rows send their type and caption; emoji images become text", async () => {
  const list = openChatElement("Grupo", []);
  const { watcher, sent } = watch();
  watcher.start();
  list.append(rowElement("false_120363041234567890@g.us_B1_5511912345678@c.us", "foto", "[09:00, 06/12/2024] Carla: ",
    '<img src="blob:https://web.whatsapp.com/x">'));
  list.append(rowElement("false_120363041234567890@g.us_B2_5511912345678@c.us", null, "[09:01, 06/12/2024] Carla: ",
    '<span data-icon="audio-play"></span>'));
  const emoji = rowElement("false_120363041234567890@g.us_B3_98765432109876@lid", "ok ", "[09:02, 06/12/2024] Davi: ");
  emoji.querySelector(".selectable-text").insertAdjacentHTML("beforeend", '<img alt="👍" src="data:,">');
  list.append(emoji);
  await settle();
  assert.deepEqual(sent.map((c) => [c.type, c.content, c.participant, c.name]), [
    ["image", "foto", "5511912345678@c.us", "Carla"],
    ["audio", "", "5511912345678@c.us", "Carla"],
    ["text", "ok 👍", "98765432109876@lid", "Davi"],
  ]);
});

test("switching chats (a new #main) captures the new chat's history", async () => {
  openChatElement("Ana", [["false_5511987654321@c.us_A1", "one"]]);
  const { watcher, sent, chats } = watch();
  watcher.start();
  openChatElement("Bruno", [["false_123456789012345@lid_C1", "oi"]]);
  await settle();
  assert.deepEqual(sent.map((c) => [c.chat_id, c.chat_name]), [["5511987654321@c.us", "Ana"], ["123456789012345@lid", "Bruno"]]);
  assert.equal(chats.at(-1).chatId, "123456789012345@lid");
});

test("paused reads nothing; on resume rows on screen stay skipped and new ones are read", async () => {
  const list = openChatElement("Ana", [["false_5511987654321@c.us_A1", "one"]]);
  const { watcher, sent } = watch();
  watcher.start({ paused: true });
  list.append(rowElement("false_5511987654321@c.us_A2", "private"));
  await settle();
  assert.equal(sent.length, 0);
  watcher.setPaused(false);
  list.append(rowElement("false_5511987654321@c.us_A3", "after"));
  await settle();
  assert.deepEqual(sent.map((c) => c.content), ["after"]);
});

test("a row that arrived while paused in the very millisecond of the resume stays private", async () => {
  const list = openChatElement("Ana", [["false_5511987654321@c.us_A1", "one"]]);
  const { watcher, sent } = watch({ now: () => 5_000 }); // a clock that does not move: the same millisecond
  watcher.start({ paused: true });
  list.append(rowElement("false_5511987654321@c.us_A2", "private"));
  await settle();
  watcher.setPaused(false);
  list.append(rowElement("false_5511987654321@c.us_A3", "after"));
  await settle();
  assert.deepEqual(sent.map((c) => c.content), ["after"]);
});

test("a row that arrives after the user resumed, before the page heard of it, is read", async () => {
  let clock = 1_000;
  const list = openChatElement("Ana", [["false_5511987654321@c.us_A1", "before the pause"]]);
  const { watcher, sent } = watch({ now: () => clock });
  watcher.start({ paused: true });
  clock = 2_000;
  list.append(rowElement("false_5511987654321@c.us_A2", "private"));
  await settle();
  clock = 3_000; // the user resumes in the popup at 3,000 ...
  list.append(rowElement("false_5511987654321@c.us_A3", "after the resume"));
  await settle();
  clock = 3_500; // ... and the page hears of it a moment later
  watcher.setPaused(false, 3_000);
  assert.deepEqual(sent.map((c) => c.content), ["after the resume"]);
});

test("rows that stop matching in an open chat (a WhatsApp release) are reported stalled, then ok again", async (t) => {
  t.mock.timers.enable({ apis: ["setInterval", "Date"] });
  const list = openChatElement("Ana", [["false_5511987654321@c.us_A1", "one"]]);
  const { watcher, health } = watch({ now: () => Date.now() });
  watcher.start();
  t.mock.timers.tick(2_000);
  assert.equal(health.at(-1).state, "ok");
  for (const row of list.querySelectorAll("[data-id]")) {
    row.setAttribute("data-msg-key", row.getAttribute("data-id"));
    row.removeAttribute("data-id");
  }
  for (let i = 0; i < 7; i += 1) t.mock.timers.tick(2_000); // one tick at a time: Date moves with each
  assert.equal(health.at(-1).state, "stalled");
  assert.equal(health.at(-1).reason, STALL_REASONS.noRows);
  for (const row of list.querySelectorAll("[data-msg-key]")) row.setAttribute("data-id", row.getAttribute("data-msg-key"));
  t.mock.timers.tick(2_000);
  assert.equal(health.at(-1).state, "ok");
  assert.equal(health.filter((h) => h.state === "stalled").length, 1, "one report per stall");
});

test("rows whose text the selectors cannot find are held and the chat is reported stalled", async (t) => {
  t.mock.timers.enable({ apis: ["setInterval", "Date"] });
  openChatElement("Ana", [["false_5511987654321@c.us_A1", null], ["false_5511987654321@c.us_A2", null]]);
  const { watcher, sent, health } = watch({ now: () => Date.now() });
  watcher.start();
  t.mock.timers.tick(12_000);
  assert.equal(sent.length, 0, "nothing half-read is sent");
  const stalled = health.filter((h) => h.state === "stalled");
  assert.deepEqual(stalled.map((h) => h.reason), [STALL_REASONS.noText], "reported once");
  assert.equal(health.at(-1).state, "stalled");
  assert.ok(health.at(-1).selectors_version);
});

test("an open chat with no rows at all is reported stalled", async (t) => {
  t.mock.timers.enable({ apis: ["setInterval", "Date"] });
  openChatElement("Ana", []);
  const { watcher, health } = watch({ now: () => Date.now() });
  watcher.start();
  t.mock.timers.tick(12_000);
  assert.deepEqual(health.filter((h) => h.state === "stalled").map((h) => h.reason), [STALL_REASONS.noRows]);
  assert.equal(health.at(-1).state, "stalled");
});

test("each mutation batch is measured with the Performance API", async () => {
  const list = openChatElement("Ana", []);
  performance.clearMeasures(MEASURE_BATCH);
  const { watcher } = watch({ perf: performance });
  watcher.start();
  list.append(rowElement("false_5511987654321@c.us_A1", "one"));
  await settle();
  assert.equal(performance.getEntriesByName(MEASURE_BATCH).length, 1);
});

test("Insert puts the reply into the compose box and sends nothing", () => {
  openChatElement("Ana", []);
  const box = doc.querySelector('#main footer [contenteditable="true"]');
  box.textContent = "old draft";
  let keys = 0;
  doc.addEventListener("keydown", () => { keys += 1; });
  assert.equal(insertIntoCompose(doc, "Olá Ana!"), true);
  assert.equal(box.textContent, "Olá Ana!");
  assert.equal(keys, 0);
  doc.getElementById("main").remove();
  assert.equal(insertIntoCompose(doc, "x"), false);
});

test("a row whose text is rendered after the row itself is read when the text arrives", async () => {
  const list = openChatElement("Ana", [["false_5511987654321@c.us_A1", "one"]]);
  const { watcher, sent } = watch();
  watcher.start();
  const late = rowElement("false_5511987654321@c.us_A2", null);
  list.append(late);
  await settle();
  assert.deepEqual(sent.map((c) => c.content), ["one"], "held while it has no text");
  const span = doc.createElement("span");
  span.className = "selectable-text copyable-text";
  const inner = doc.createElement("span");
  inner.textContent = "late text";
  span.append(inner);
  late.querySelector("[data-pre-plain-text]").append(span);
  await settle();
  assert.deepEqual(sent.map((c) => c.content), ["one", "late text"]);
});
