// Quick replies' pure logic: the "/word" at the caret, narrowing, the list's keys and the per-prefix cache.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ListState, PrefixCache, keyAction, narrowItems, slashWordAt } from "../src/lib/quick-replies.js";

test("a slash word at the caret is found at the start of the text or after white space", () => {
  assert.deepEqual(slashWordAt("/fre", 4), { start: 0, end: 4, prefix: "fre" });
  assert.deepEqual(slashWordAt("olá /Fre", 8), { start: 4, end: 8, prefix: "fre" });
  assert.deepEqual(slashWordAt("olá\n/pix", 8), { start: 4, end: 8, prefix: "pix" });
  assert.deepEqual(slashWordAt("/", 1), { start: 0, end: 1, prefix: "" });
  assert.deepEqual(slashWordAt("/entrega-sp_2", 13), { start: 0, end: 13, prefix: "entrega-sp_2" });
  assert.deepEqual(slashWordAt("/ação", 5), { start: 0, end: 5, prefix: "ação" });
});

test("the caret inside a word: the whole word is replaced, the prefix is what precedes the caret", () => {
  assert.deepEqual(slashWordAt("/frete amanhã", 3), { start: 0, end: 6, prefix: "fr" });
});

test("no list for slashes that are not a shortcut", () => {
  assert.equal(slashWordAt("http://x", 8), null);
  assert.equal(slashWordAt("1/2", 3), null);
  assert.equal(slashWordAt("/fre ", 5), null); // a space ended the word
  assert.equal(slashWordAt("fre", 3), null);
  assert.equal(slashWordAt("", 0), null);
  assert.equal(slashWordAt("/fre", 0), null);
  assert.equal(slashWordAt(`/${"a".repeat(33)}`, 34), null);
  assert.equal(slashWordAt(`/${"a".repeat(32)}`, 33).prefix.length, 32);
  assert.equal(slashWordAt("/fre", 9), null);
});

test("narrowing ignores case and accents", () => {
  const items = [{ id: 1, shortcut: "frete" }, { id: 2, shortcut: "Fréte-sp" }, { id: 3, shortcut: "pix" }];
  assert.deepEqual(narrowItems(items, "fre").map((i) => i.id), [1, 2]);
  assert.deepEqual(narrowItems(items, "frete-").map((i) => i.id), [2]);
  assert.deepEqual(narrowItems(items, "").map((i) => i.id), [1, 2, 3]);
  assert.deepEqual(narrowItems(null, "x"), []);
});

test("the list's keyboard state wraps and keeps the highlighted item when the list narrows", () => {
  const list = new ListState();
  assert.equal(list.open, false);
  assert.equal(list.current, null);
  list.move(1); // nothing to move over
  list.setItems([{ id: 1 }, { id: 2 }, { id: 3 }]);
  assert.equal(list.current.id, 1);
  list.move(-1);
  assert.equal(list.current.id, 3);
  list.move(1);
  list.move(1);
  assert.equal(list.current.id, 2);
  list.setItems([{ id: 2 }, { id: 3 }]);
  assert.equal(list.current.id, 2);
  list.setItems([{ id: 3 }]);
  assert.equal(list.current.id, 3);
  list.setItems([{ id: 4 }, { id: 5 }]);
  assert.equal(list.index, 0);
  list.select(1);
  assert.equal(list.current.id, 5);
  list.select(7);
  assert.equal(list.current.id, 5);
  list.clear();
  assert.equal(list.open, false);
});

test("keys: arrows move, Enter and Tab choose, Escape closes, the rest pass through", () => {
  assert.equal(keyAction({ key: "ArrowDown" }), "down");
  assert.equal(keyAction({ key: "ArrowUp" }), "up");
  assert.equal(keyAction({ key: "Enter" }), "choose");
  assert.equal(keyAction({ key: "Enter", shiftKey: true }), "choose");
  assert.equal(keyAction({ key: "Tab" }), "choose");
  assert.equal(keyAction({ key: "Tab", shiftKey: true }), null);
  assert.equal(keyAction({ key: "Escape" }), "close");
  assert.equal(keyAction({ key: "a" }), null);
  assert.equal(keyAction({ key: "Enter", isComposing: true }), null);
});

test("the cache answers per chat and prefix for a few seconds, and narrows from a shorter prefix", () => {
  let now = 1000;
  const cache = new PrefixCache({ ttlMs: 5000, now: () => now, max: 3 });
  cache.set("chat@c.us", "fr", [{ id: 1 }]);
  assert.deepEqual(cache.get("chat@c.us", "fr"), [{ id: 1 }]);
  assert.equal(cache.get("other@c.us", "fr"), null);
  assert.deepEqual(cache.nearest("chat@c.us", "fret"), [{ id: 1 }]);
  assert.equal(cache.nearest("chat@c.us", "fr"), null); // only shorter prefixes
  now += 5001;
  assert.equal(cache.get("chat@c.us", "fr"), null);
  for (const p of ["a", "b", "c", "d"]) cache.set(null, p, []);
  assert.equal(cache.get(null, "a"), null); // the oldest went first
  assert.deepEqual(cache.get(null, "d"), []);
});
