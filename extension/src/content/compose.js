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

/**
 * Where the caret is in the message box: {box, node (a text node), offset, text (that node's text)}, or null when
 * the box is not focused or the selection is a range. A "/shortcut" never spans two text nodes, so one is enough.
 */
export function caretInCompose(doc) {
  const box = findComposeBox(doc);
  const selection = doc.getSelection();
  if (!box || !selection || selection.rangeCount === 0 || !selection.isCollapsed) return null;
  if (!box.contains(selection.focusNode)) return null;
  const position = textPosition(selection.focusNode, selection.focusOffset);
  if (!position) return null;
  return { box, node: position.node, offset: position.offset, text: position.node.data };
}

/**
 * Replace [start, end) of one text node of the box with text, as editing input (the editor's own state follows:
 * Lexical sees an ordinary insertion over a selection). Never sends. Returns whether the box now holds text.
 */
export function replaceInCompose(doc, node, start, end, text) {
  const box = findComposeBox(doc);
  if (!box || !node?.isConnected || !box.contains(node)) return false;
  box.focus();
  const select = () => {
    const range = doc.createRange();
    range.setStart(node, Math.min(start, node.data.length));
    range.setEnd(node, Math.min(end, node.data.length));
    const selection = doc.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  };
  select();
  let inserted;
  try {
    inserted = doc.execCommand("insertText", false, text);
  } catch {
    inserted = false;
  }
  if (!inserted) {
    select();
    box.dispatchEvent(new doc.defaultView.InputEvent("beforeinput", {
      inputType: "insertText", data: text, bubbles: true, cancelable: true, composed: true,
    }));
  }
  return box.textContent.replace(/\s+/g, " ").includes(text.replace(/\s+/g, " ").trim());
}

// A selection point inside an element (an editor often puts the caret "after the last child") as a text node.
function textPosition(node, offset) {
  if (node.nodeType === 3) return { node, offset };
  const children = node.childNodes;
  if (offset > 0 && children[offset - 1]) {
    const last = lastTextNode(children[offset - 1]);
    return last ? { node: last, offset: last.data.length } : null;
  }
  const first = children[offset] ? firstTextNode(children[offset]) : null;
  return first ? { node: first, offset: 0 } : null;
}

function lastTextNode(node) {
  if (node.nodeType === 3) return node;
  for (let child = node.lastChild; child; child = child.previousSibling) {
    const found = lastTextNode(child);
    if (found) return found;
  }
  return null;
}

function firstTextNode(node) {
  if (node.nodeType === 3) return node;
  for (let child = node.firstChild; child; child = child.nextSibling) {
    const found = firstTextNode(child);
    if (found) return found;
  }
  return null;
}
