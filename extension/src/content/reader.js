// Reading one message row of WhatsApp Web's DOM into raw fields (src/lib/parse.js shapes them).

import { EMOJI_IMAGE, MEDIA_HINTS, SELECTORS } from "./selectors.js";

/** {dataId, text, type, prePlainText, readable}; readable = the text selector or a media hint found something. */
export function readRow(row) {
  const dataId = row.getAttribute("data-id");
  const pre = row.matches(SELECTORS.prePlainText) ? row : row.querySelector(SELECTORS.prePlainText);
  const textElement = (pre && pre.querySelector(SELECTORS.text)) || row.querySelector(SELECTORS.text);
  const type = mediaType(row);
  return {
    dataId,
    text: textElement ? visibleText(textElement) : "",
    type,
    prePlainText: pre ? pre.getAttribute("data-pre-plain-text") : null,
    readable: Boolean(textElement) || type !== "text",
  };
}

export function mediaType(row) {
  for (const [type, selector] of MEDIA_HINTS) {
    if (row.querySelector(selector)) return type;
  }
  return "text";
}

/** Text with emoji images turned back into their characters, without a layout pass (no innerText). */
export function visibleText(element) {
  if (!element.querySelector(EMOJI_IMAGE)) return element.textContent.trim();
  let text = "";
  const walker = element.ownerDocument.createTreeWalker(element, 5 /* SHOW_ELEMENT | SHOW_TEXT */);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (node.nodeType === 3) text += node.nodeValue;
    else if (node.localName === "img") text += node.getAttribute("alt") ?? "";
  }
  return text.trim();
}

/** The open chat's #main element, its title, and whether a chat is open (#main with a header). */
export function openChat(doc) {
  const main = doc.getElementById(SELECTORS.mainId);
  const header = main ? main.querySelector(SELECTORS.header) : null;
  const titleElement = main ? main.querySelector(SELECTORS.chatTitle) : null;
  return { main, open: Boolean(header), title: titleElement ? titleElement.getAttribute("title") : null };
}
