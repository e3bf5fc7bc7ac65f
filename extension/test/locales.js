// The extension's catalogs for tests: an I18n over _locales/<lang>/messages.json, as chrome.i18n would give.
import { readFileSync } from "node:fs";
import { I18n, catalogGetMessage } from "../src/lib/i18n.js";

export const LOCALES_DIR = new URL("../_locales/", import.meta.url);

export function readCatalog(lang) {
  return JSON.parse(readFileSync(new URL(`${lang}/messages.json`, LOCALES_DIR), "utf8"));
}

/** formatLocale: the "navigator language" numbers and dates follow (defaults to the catalog's own). */
export function catalogI18n(lang = "en", formatLocale = null) {
  return new I18n({ getMessage: catalogGetMessage(readCatalog(lang)), formatLocale });
}
