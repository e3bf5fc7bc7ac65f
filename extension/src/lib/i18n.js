// The extension's words in the browser's language: _locales/<lang>/messages.json through chrome.i18n
// (browser.i18n on Firefox), numbers and dates through Intl. One I18n object is made per page / content script
// and handed to whatever draws text (no module-level state).
//
// - Keys are literal strings at the call: `i18n.t("panel_customer")`, `i18n.plural("popup_queued", n)`, or
//   `msgKey("sentiment_positive")` for keys kept as data. extension/test/locales.test.js finds them that way,
//   so a key built at run time would be reported as missing (and its message as unused).
// - Plurals: chrome.i18n has none. plural("x", n) picks "x_one" / "x_other" (or any other CLDR category the
//   catalog defines, e.g. "x_many") with Intl.PluralRules of the catalog's own language, so the rule always
//   matches the text shown even when the browser's language has no catalog and English is used.
// - Placeholders: messages use named ones ($COUNT$, $NAME$) whose content is $1, $2... (chrome's own scheme).

/** The identity: marks a string as a message key for the locale tests (like gettext's N_()). */
export const msgKey = (key) => key;

export class I18n {
  #getMessage;
  #pluralRules;
  #numbers;
  #formatLocale;

  /**
   * getMessage(key, substitutions[]) -> text ("" when missing), as chrome.i18n.getMessage.
   * formatLocale: the user's locale for numbers and dates (navigator.language); defaults to the catalog's.
   */
  constructor({ getMessage, formatLocale = null }) {
    this.#getMessage = getMessage;
    this.language = getMessage("catalog_locale", []) || "en";
    this.#formatLocale = safeLocale(formatLocale) ?? safeLocale(this.language) ?? "en";
    this.#pluralRules = new Intl.PluralRules(this.language);
    this.#numbers = new Intl.NumberFormat(this.#formatLocale);
  }

  /** The message for key with $1..$9 filled; the key itself when the catalog lacks it (visible, never blank). */
  t(key, ...substitutions) {
    return this.#getMessage(key, substitutions.map(String)) || key;
  }

  /**
   * key_<plural category of count>, falling back to key_other; $1 is the count formatted for the locale.
   * key_zero, when the catalog has it, is used for 0 whatever the language's rule ("nothing waits" reads better
   * than "0 messages wait", and Portuguese's rule would say "0 mensagem").
   */
  plural(key, count, ...substitutions) {
    const number = Number(count) || 0;
    const subs = [this.number(number), ...substitutions].map(String);
    const category = this.#pluralRules.select(number);
    return (number === 0 ? this.#getMessage(`${key}_zero`, subs) : "")
      || this.#getMessage(`${key}_${category}`, subs) || this.#getMessage(`${key}_other`, subs) || key;
  }

  number(value) {
    return this.#numbers.format(Number(value) || 0);
  }

  /** 12.5 -> "12.5" / "12,5" with exactly `digits` decimals. */
  decimal(value, digits = 1) {
    return new Intl.NumberFormat(this.#formatLocale, { minimumFractionDigits: digits, maximumFractionDigits: digits })
      .format(Number(value) || 0);
  }

  /** 0.9 -> "90%" ("90 %" where the locale spaces it). */
  percent(fraction) {
    return new Intl.NumberFormat(this.#formatLocale, { style: "percent", maximumFractionDigits: 0 }).format(fraction);
  }

  /** A date (ISO text, epoch ms or Date) in the locale's short form; "—" when missing, the text when unreadable. */
  date(value) {
    const date = toDate(value);
    if (!date) return value ? String(value) : "—";
    return new Intl.DateTimeFormat(this.#formatLocale, { dateStyle: "short" }).format(date);
  }

  dateTime(value) {
    const date = toDate(value);
    if (!date) return value ? String(value) : "—";
    return new Intl.DateTimeFormat(this.#formatLocale, { dateStyle: "short", timeStyle: "short" }).format(date);
  }

  /** "just now", "3 minutes ago", "2 hours ago", or the date and time after a day: "last capture" labels. */
  relativeTime(epochMs, now = Date.now()) {
    if (!epochMs) return this.t("time_never");
    const seconds = Math.max(0, Math.round((now - epochMs) / 1000));
    if (seconds < 5) return this.t("time_just_now");
    const relative = new Intl.RelativeTimeFormat(this.#formatLocale, { numeric: "auto", style: "short" });
    if (seconds < 60) return relative.format(-seconds, "second");
    if (seconds < 3600) return relative.format(-Math.floor(seconds / 60), "minute");
    if (seconds < 86400) return relative.format(-Math.floor(seconds / 3600), "hour");
    return this.dateTime(epochMs);
  }
}

/** The I18n of an extension page or content script: the browser's chrome.i18n / browser.i18n. */
export function browserI18n(api, nav = globalThis.navigator) {
  return new I18n({
    getMessage: (key, substitutions) => api.i18n.getMessage(key, substitutions),
    formatLocale: nav?.language ?? api.i18n.getUILanguage?.(),
  });
}

/**
 * chrome.i18n.getMessage over a parsed messages.json (tests, and anything running outside the browser):
 * "$NAME$" becomes the placeholder's content, "$1".."$9" the substitutions, "$$" a dollar sign.
 */
export function catalogGetMessage(messages) {
  const byKey = new Map(Object.entries(messages).map(([key, entry]) => [key.toLowerCase(), entry]));
  return (key, substitutions = []) => {
    const entry = byKey.get(String(key).toLowerCase());
    if (!entry) return "";
    const placeholders = new Map(Object.entries(entry.placeholders ?? {}).map(([name, p]) => [name.toLowerCase(), p.content]));
    const fill = (text) => text.replace(/\$(\d)/g, (_, n) => substitutions[Number(n) - 1] ?? "");
    return entry.message.replace(/\$\$|\$([A-Za-z0-9_@]+)\$|\$(\d)/g, (match, name, digit) => {
      if (match === "$$") return "$";
      if (digit) return substitutions[Number(digit) - 1] ?? "";
      return placeholders.has(name.toLowerCase()) ? fill(placeholders.get(name.toLowerCase())) : match;
    });
  };
}

/**
 * Fill an extension page from its data-i18n attributes: data-i18n="key" sets the text, data-i18n-title,
 * data-i18n-placeholder and data-i18n-aria-label set those attributes; <html lang> becomes the catalog's language.
 */
export function localizePage(doc, i18n) {
  doc.documentElement.lang = i18n.language;
  for (const element of doc.querySelectorAll("[data-i18n]")) element.textContent = i18n.t(element.dataset.i18n);
  for (const attribute of ["title", "placeholder", "aria-label"]) {
    for (const element of doc.querySelectorAll(`[data-i18n-${attribute}]`)) {
      element.setAttribute(attribute, i18n.t(element.getAttribute(`data-i18n-${attribute}`)));
    }
  }
}

function toDate(value) {
  if (value === null || value === undefined || value === "") return null;
  const date = value instanceof Date ? value : new Date(value);
  return Number.isNaN(date.getTime()) ? null : date;
}

function safeLocale(locale) {
  if (!locale) return null;
  try {
    return Intl.getCanonicalLocales(String(locale).replace(/_/g, "-"))[0] ?? null;
  } catch {
    return null; // not a BCP 47 tag: use the next choice
  }
}
