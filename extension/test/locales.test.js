// The extension's languages: _locales/{en,pt_BR,es} agree with each other and with the code, every text of the
// pages, panel and quick-reply list comes from them, and pt_BR shows Portuguese words, numbers and dates.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { JSDOM } from "jsdom";
import { Panel } from "../src/content/panel.js";
import { QuickReplyPicker } from "../src/content/quick-picker.js";
import { DraftState } from "../src/lib/draft.js";
import { describeError } from "../src/lib/errors.js";
import { I18n, catalogGetMessage, localizePage } from "../src/lib/i18n.js";
import { LOCALES_DIR, catalogI18n, readCatalog } from "./locales.js";

const EXTENSION = new URL("../", import.meta.url);
const LANGUAGES = ["en", "pt_BR", "es"];
const PLURAL_SUFFIX = /_(zero|one|two|few|many|other)$/;

function sourceFiles(dir = new URL("src/", EXTENSION)) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => (entry.isDirectory()
    ? sourceFiles(new URL(`${entry.name}/`, dir)) : entry.name.endsWith(".js") ? [new URL(entry.name, dir)] : []));
}

/** Comments name keys as examples: only code counts. */
function withoutComments(js) {
  return js.replace(/^\s*\/\*[\s\S]*?\*\//gm, "").replace(/^\s*\/\/.*$/gm, "");
}

/** {direct: keys used as they are, plural: bases given to plural()} in src, the pages and the manifest. */
function keysInCode() {
  const direct = new Set();
  const plural = new Set();
  const scan = (text, pattern, into) => { for (const match of text.matchAll(pattern)) into.add(match[1]); };
  const scripts = [...sourceFiles(), new URL("background.js", EXTENSION), new URL("content.js", EXTENSION)];
  for (const file of scripts) {
    const js = withoutComments(readFileSync(file, "utf8"));
    scan(js, /\b(?:t|msgKey|getMessage)\(\s*"([A-Za-z0-9_@]+)"/g, direct);
    scan(js, /\bplural\(\s*"([A-Za-z0-9_@]+)"/g, plural);
  }
  for (const page of ["options.html", "popup.html"]) {
    scan(readFileSync(new URL(page, EXTENSION), "utf8"), /data-i18n(?:-[a-z-]+)?="([A-Za-z0-9_@]+)"/g, direct);
  }
  scan(readFileSync(new URL("manifest.json", EXTENSION), "utf8"), /__MSG_([A-Za-z0-9_@]+)__/g, direct);
  return { direct, plural };
}

const placeholdersOf = (entry) => Object.entries(entry.placeholders ?? {})
  .map(([name, p]) => `${name.toLowerCase()}=${p.content}`).sort();
const namedIn = (message) => [...message.matchAll(/\$([A-Za-z0-9_@]+)\$/g)].map((m) => m[1].toLowerCase()).sort();

test("the locales folder holds exactly en, pt_BR and es, and the manifest defaults to en", () => {
  assert.deepEqual(readdirSync(LOCALES_DIR).sort(), [...LANGUAGES].sort());
  const manifest = JSON.parse(readFileSync(new URL("manifest.json", EXTENSION), "utf8"));
  assert.equal(manifest.default_locale, "en");
  assert.equal(manifest.name, "__MSG_ext_name__");
  assert.equal(manifest.description, "__MSG_ext_description__");
});

test("the three locales have the same keys and the same placeholders, and no empty message", () => {
  const en = readCatalog("en");
  for (const lang of LANGUAGES) {
    const catalog = readCatalog(lang);
    assert.deepEqual(Object.keys(catalog).sort(), Object.keys(en).sort(), `${lang}: keys differ from en`);
    for (const [key, entry] of Object.entries(catalog)) {
      assert.ok(typeof entry.message === "string" && entry.message.trim(), `${lang} ${key}: empty`);
      assert.deepEqual(placeholdersOf(entry), placeholdersOf(en[key]), `${lang} ${key}: placeholders differ`);
      assert.deepEqual([...new Set(namedIn(entry.message))], [...new Set(namedIn(en[key].message))],
        `${lang} ${key}: the message uses other placeholders than en`);
      for (const name of namedIn(entry.message)) {
        assert.ok(entry.placeholders?.[name] ?? Object.entries(entry.placeholders ?? {}).some(([n]) => n.toLowerCase() === name),
          `${lang} ${key}: $${name}$ is not declared`);
      }
    }
    assert.equal(catalog.catalog_locale.message.replace("-", "_"), lang, `${lang}: catalog_locale names another language`);
  }
});

test("the Portuguese and Spanish catalogs are translated (not English copies)", () => {
  const en = readCatalog("en");
  // Words that are the same in these languages (brand, "tokens", "Status"...) are few: most must differ.
  for (const lang of ["pt_BR", "es"]) {
    const catalog = readCatalog(lang);
    const same = Object.keys(en).filter((key) => catalog[key].message === en[key].message);
    assert.ok(same.length <= 6, `${lang}: still English: ${same.join(", ")}`);
  }
});

test("every key the code uses exists in en, and every key in en is used", () => {
  const en = readCatalog("en");
  const { direct, plural } = keysInCode();
  const missing = [...direct].filter((key) => !(key in en));
  for (const base of plural) {
    if (!(`${base}_other` in en)) missing.push(`${base}_other`);
    if (!(`${base}_one` in en)) missing.push(`${base}_one`);
  }
  assert.deepEqual(missing, [], "keys used in the code but missing from _locales/en");
  const unused = Object.keys(en).filter((key) => !direct.has(key)
    && !(PLURAL_SUFFIX.test(key) && plural.has(key.replace(PLURAL_SUFFIX, ""))));
  assert.deepEqual(unused, [], "keys in _locales/en that no code uses");
});

test("catalogGetMessage fills named and numbered placeholders as chrome.i18n does", () => {
  const getMessage = catalogGetMessage({
    Paired: { message: "At $URL$ as $Name$ ($1) costs $$5", placeholders: { url: { content: "$1" }, NAME: { content: "“$2”" } } },
  });
  assert.equal(getMessage("paired", ["http://x", "Chrome"]), "At http://x as “Chrome” (http://x) costs $5");
  assert.equal(getMessage("nothing", []), "");
});

test("plural forms: the message is chosen by count with the catalog's own rules", () => {
  const pt = catalogI18n("pt_BR", "pt-BR");
  assert.equal(pt.plural("popup_queued_messages", 0), "nenhuma");
  assert.equal(pt.plural("popup_queued_messages", 1), "1 mensagem");
  assert.equal(pt.plural("popup_queued_messages", 2), "2 mensagens");
  assert.equal(pt.plural("popup_queued_messages", 1234), "1.234 mensagens");
  assert.equal(pt.plural("popup_queued_messages", 1_000_000), "1.000.000 mensagens"); // CLDR "many": no key, so _other
  const es = catalogI18n("es", "es");
  assert.equal(es.plural("error_wrong_code_left", 1), "Código incorrecto: queda 1 intento.");
  assert.equal(es.plural("error_wrong_code_left", 3), "Código incorrecto: quedan 3 intentos.");
  const en = catalogI18n("en", "en-US");
  assert.equal(describeError({ code: "wrong_code", details: { tries_left: 1 } }, en), "Wrong code: 1 try left.");
  assert.equal(describeError({ code: "wrong_code", details: { tries_left: 4 } }, en), "Wrong code: 4 tries left.");
});

test("numbers, percentages and dates follow the user's locale", () => {
  const pt = catalogI18n("pt_BR", "pt-BR");
  assert.equal(pt.number(1234567), "1.234.567");
  assert.equal(pt.decimal(12.5, 1), "12,5");
  assert.equal(pt.date("2026-12-07T15:00:00Z"), "07/12/2026");
  assert.equal(pt.relativeTime(0), "nunca");
  assert.equal(pt.relativeTime(1_000_000, 1_000_000 + 2000), "agora mesmo");
  assert.match(pt.relativeTime(1_000_000, 1_000_000 + 5 * 60_000), /^há 5 min/);
  assert.equal(catalogI18n("en", "en-US").date("2026-12-07T15:00:00Z"), "12/7/26");
  assert.equal(catalogI18n("es", "es").decimal(12.5, 1), "12,5");
});

// -- every text on screen comes from the catalog -------------------------------------------------------------

/** A catalog answering every key with ⟦key⟧: any text on screen not in brackets was not translated. */
const marked = () => new I18n({ getMessage: (key) => (key === "catalog_locale" ? "en" : `⟦${key}⟧`), formatLocale: "en-US" });
const DATA = {
  customer: { name: "Maria Silva", phone: "+5511987654321", tags: ["vip"], status: "lead", message_count: 3,
    first_contact_at: "2026-12-01T10:00:00Z" },
  latest: { id: 42, preview: "quanto é o frete?", analysis: { sentiment: { label: "neutral" },
    intent: { label: "pricing", confidence: 0.9 }, suggested_responses: ["O frete é R$ 25."],
    knowledge: { entry_id: 3, title: "Frete", score: 0.8 } } },
};
// The agent's and the user's own text, numbers, and symbols: not for translation.
const NOT_WORDS = new Set(["CRM Agent", "Maria Silva", "+5511987654321", "vip", "quanto é o frete?", "O frete é R$ 25.",
  "O frete", "◂", "▸", "…", "—", "/frete", "Frete para BH", "O frete para BH é R$ 25."]);

function untranslatedTexts(root) {
  const walker = root.ownerDocument.createTreeWalker(root, 4 /* NodeFilter.SHOW_TEXT */);
  const found = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (node.parentElement?.closest("style, script")) continue;
    const text = node.textContent.trim();
    if (!text || NOT_WORDS.has(text) || /^⟦[^⟧]+⟧$/.test(text) || /^[\d.,/:%\s]+$/.test(text)) continue;
    found.push(text);
  }
  for (const element of root.querySelectorAll("[title], [aria-label], [placeholder]")) {
    for (const name of ["title", "aria-label", "placeholder"]) {
      const value = element.getAttribute(name);
      if (value && !/^⟦[^⟧]+⟧$/.test(value) && !NOT_WORDS.has(value)) found.push(`${name}=${value}`);
    }
  }
  return found;
}

test("the panel shows no text that does not come from the catalog, in any state", () => {
  const dom = new JSDOM("<!doctype html><body></body>");
  const draft = new DraftState();
  const panel = new Panel({ doc: dom.window.document, i18n: marked(), draft, onInsert: () => true, onCollapse: () => {},
    onOpenOptions: () => {} });
  panel.mount();
  const shadow = () => panel.host.shadowRoot;
  const seen = [];
  const look = (view) => {
    panel.render(view);
    seen.push(...untranslatedTexts(shadow()));
  };
  for (const state of ["unpaired", "offline", "loading", "empty"]) look({ state, agent: { paused: true, queued: 2 } });
  look({ state: "offline", agent: { queued: 0 } });
  look({ state: "error", error: { code: "not_paired" }, agent: {} });
  look({ state: "ok", data: DATA, agent: {} });
  look({ state: "ok", data: { customer: null, latest: { id: 1, analysis: null } }, agent: {} });
  draft.start(42);
  look({ state: "ok", data: DATA, agent: {} });
  draft.started({ ok: true, draft_id: "d" });
  draft.apply({ type: "reply.draft.token", data: { draft_id: "d", text: "O frete" } });
  draft.cancelled();
  look({ state: "ok", data: DATA, agent: {} });
  draft.start(42);
  draft.started({ ok: true, draft_id: "e" });
  draft.apply({ type: "reply.draft.completed", data: { draft_id: "e", text: "O frete", tokens: 3, tokens_per_s: 9 } });
  look({ state: "ok", data: DATA, agent: {} });
  draft.start(42);
  draft.started({ ok: false, error: { code: "llm_disabled" } });
  look({ state: "ok", data: DATA, agent: {} });
  panel.setCollapsed(true);
  seen.push(...untranslatedTexts(shadow()));
  assert.deepEqual([...new Set(seen)], []);
  dom.window.close();
});

test("the quick-reply list shows no text that does not come from the catalog", async () => {
  const dom = new JSDOM(`<!doctype html><body><div id="main"><footer><div contenteditable="true"></div></footer></div></body>`,
    { pretendToBeVisual: true });
  const doc = dom.window.document;
  const picker = new QuickReplyPicker({ doc, i18n: marked(), ask: async () => ({ ok: true,
    items: [{ id: 1, shortcut: "frete", title: "Frete para BH", text: "O frete para BH é R$ 25." }] }) });
  picker.start();
  const box = doc.querySelector('[contenteditable="true"]');
  box.focus();
  box.textContent = "/fre";
  const range = doc.createRange();
  range.setStart(box.firstChild, 4);
  range.collapse(true);
  doc.getSelection().removeAllRanges();
  doc.getSelection().addRange(range);
  box.dispatchEvent(new dom.window.InputEvent("input", { bubbles: true }));
  const host = () => doc.getElementById("crm-agent-quick-replies");
  for (let i = 0; i < 100 && !(host()?.style.display === "block"); i += 1) await new Promise((r) => setTimeout(r, 10));
  assert.equal(host()?.style.display, "block", "the list opened");
  assert.deepEqual(untranslatedTexts(host().shadowRoot), []);
  picker.stop();
  dom.window.close();
});

for (const page of ["options.html", "popup.html"]) {
  test(`${page}: every text carries data-i18n, and pt_BR fills it in Portuguese`, () => {
    const html = readFileSync(new URL(page, EXTENSION), "utf8").replace(/<script[^>]*><\/script>/g, "");
    const dom = new JSDOM(html);
    localizePage(dom.window.document, marked());
    assert.deepEqual(untranslatedTexts(dom.window.document.documentElement), []);
    const pt = new JSDOM(html);
    localizePage(pt.window.document, catalogI18n("pt_BR", "pt-BR"));
    assert.equal(pt.window.document.documentElement.lang, "pt-BR");
    const text = pt.window.document.body.textContent;
    assert.match(text, page === "options.html" ? /Endereço do agente/ : /Pausar captura/);
    assert.doesNotMatch(text, page === "options.html" ? /Agent address/ : /Pause capture/);
  });
}
