// Putting a suggested reply into WhatsApp's message box. It NEVER sends: no Enter, no click on send.
// The box is a Lexical editor: text must arrive as editing input (execCommand or an InputEvent) so the
// editor's own state follows; writing textContent alone would be undone by the editor.

import { SELECTORS } from "./selectors.js";

export function findComposeBox(doc) {
  const main = doc.getElementById(SELECTORS.mainId);
  return main ? main.querySelector(SELECTORS.compose) : null;
}

/** Replace the draft with text. Returns whether the box now holds it. */
export function insertIntoCompose(doc, text) {
  const box = findComposeBox(doc);
  if (!box) return false;
  box.focus();
  selectContents(doc, box);
  let inserted;
  try {
    inserted = doc.execCommand("insertText", false, text);
  } catch {
    inserted = false;
  }
  if (!inserted || !holds(box, text)) {
    selectContents(doc, box);
    const view = doc.defaultView;
    box.dispatchEvent(new view.InputEvent("beforeinput", {
      inputType: "insertText", data: text, bubbles: true, cancelable: true, composed: true,
    }));
  }
  if (!holds(box, text)) {
    box.textContent = text; // last resort for a plain contenteditable; tell the page it changed
    box.dispatchEvent(new doc.defaultView.InputEvent("input", { inputType: "insertText", data: text, bubbles: true }));
  }
  return holds(box, text);
}

function selectContents(doc, element) {
  const selection = doc.getSelection();
  if (!selection) return;
  const range = doc.createRange();
  range.selectNodeContents(element);
  selection.removeAllRanges();
  selection.addRange(range);
}

function holds(box, text) {
  return box.textContent.replace(/\s+/g, " ").trim() === text.replace(/\s+/g, " ").trim();
}
