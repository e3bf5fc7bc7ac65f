// Building DOM without HTML strings: agent and page text only ever becomes text nodes (never innerHTML).

/** el("button", {"data-action": "x", class: "y", onclick}, "text", childNode, ...) */
export function el(doc, tag, attributes = {}, ...children) {
  const element = doc.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(typeof child === "string" || typeof child === "number" ? doc.createTextNode(String(child)) : child);
  }
  return element;
}
