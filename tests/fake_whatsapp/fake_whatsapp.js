// A fake WhatsApp Web for the extension's end-to-end tests and benchmark.
//
// It reproduces only what WhatsApp has kept stable (docs/extension-protocol.md, ../shared/extension-notes.md):
//   - no #main until a chat is opened; opening a chat replaces #main as a whole, as WhatsApp re-renders it;
//   - #main header span[title]: the chat's name (a group also has a second span[title] listing its members);
//   - message rows #main [data-id="{true|false}_{chatJid}_{msgId}[_{participantJid}]"];
//   - .copyable-text[data-pre-plain-text="[10:32, 05/12/2024] Name: "] holding .selectable-text with the text;
//   - media: an image row (img with a blob: URL + optional caption in the copyable-text), a voice message row
//     (no text at all, a play button with span[data-icon="audio-play"]);
//   - #main footer: a contenteditable="true" compose box and a send button.
// Every other class name is random on each load (WhatsApp's are obfuscated and change with each release), so
// an extension that leans on them fails here.
//
// The compose box is a tiny editor with its own model, like WhatsApp's Lexical editor: text typed through
// beforeinput/input events (execCommand('insertText') or an InputEvent) reaches the model; text written straight
// into the DOM does not. Nothing is ever sent except by the send button or Enter in the box, and both are
// recorded in fakeWA.sent, so a test can prove the extension never sent anything.
//
// Test API: window.fakeWA (see the bottom of this file).
(() => {
  "use strict";

  const ME = "Loja Exemplo"; // the user's own name, as WhatsApp shows it in sent rows' data-pre-plain-text
  const state = {
    chats: new Map(),
    openJid: null,
    idAttribute: "data-id", // breakSelectors() renames it, as a WhatsApp release could
    seq: 0,
    composeModel: "",
    sent: [], // every "send" that happened: {text, via: "button" | "enter"}
    added: {}, // data-id -> {wall: Date.now(), perf: performance.now()} when its row entered the DOM
  };

  // -- obfuscated classes -----------------------------------------------------------------------------------

  const ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789";
  const classPool = Array.from({ length: 64 }, () => randomClass());

  function randomClass() {
    let s = "x";
    for (let i = 0; i < 6; i += 1) s += ALPHABET[Math.floor(Math.random() * ALPHABET.length)];
    return s;
  }

  function obfuscated() {
    return `${classPool[Math.floor(Math.random() * classPool.length)]} ${
      classPool[Math.floor(Math.random() * classPool.length)]}`;
  }

  function el(tag, attrs = {}, children = [], style = "") {
    const node = document.createElement(tag);
    node.className = obfuscated() + (attrs.stableClass ? ` ${attrs.stableClass}` : "");
    for (const [name, value] of Object.entries(attrs)) {
      if (name !== "stableClass" && value !== undefined && value !== null) node.setAttribute(name, value);
    }
    if (style) node.style.cssText = style;
    for (const child of children) node.append(child);
    return node;
  }

  // -- ids and times --------------------------------------------------------------------------------------

  function hex(n, width) {
    return n.toString(16).toUpperCase().padStart(width, "0");
  }

  function newMsgId(outgoing) {
    state.seq += 1;
    const random = Math.floor(Math.random() * 0xffffffff);
    return `${outgoing ? "3EB0" : "AC1F"}${hex(state.seq, 8)}${hex(random, 8)}`;
  }

  function pad(n) {
    return String(n).padStart(2, "0");
  }

  // "[10:32, 05/12/2024] Ana: " in a pt-BR-like locale (24 h, day first).
  function prePlainText(at, author) {
    const d = new Date(at);
    return `[${pad(d.getHours())}:${pad(d.getMinutes())}, ${pad(d.getDate())}/${pad(d.getMonth() + 1)}/${
      d.getFullYear()}] ${author}: `;
  }

  function clock(at) {
    const d = new Date(at);
    return `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  }

  // -- chats and messages ---------------------------------------------------------------------------------

  function addChat({ jid, name, members = [] }) {
    if (!state.chats.has(jid)) {
      state.chats.set(jid, { jid, name, members, messages: [] });
      renderChatList();
    }
    return jid;
  }

  // spec: {chat, direction: "in"|"out", text, type: "text"|"image"|"audio", caption, author, participant,
  //        msgId, at (epoch ms)} -> the stored message (with its data-id)
  function makeMessage(spec) {
    const chat = state.chats.get(spec.chat || state.openJid);
    if (!chat) throw new Error(`no such chat: ${spec.chat}`);
    const outgoing = spec.direction === "out";
    const type = spec.type || "text";
    const isGroup = chat.jid.endsWith("@g.us");
    let participant = null;
    let author = spec.author;
    if (isGroup && !outgoing) {
      const member = chat.members.find((m) => m.jid === spec.participant) || chat.members[0];
      participant = member.jid;
      author = author || member.name;
    }
    author = author || (outgoing ? ME : chat.name);
    const msgId = spec.msgId || newMsgId(outgoing);
    const dataId = `${outgoing}_${chat.jid}_${msgId}${participant ? `_${participant}` : ""}`;
    const at = spec.at || Date.now();
    return {
      dataId, chat: chat.jid, outgoing, type, at, author, isGroup,
      text: type === "text" ? (spec.text ?? "") : (spec.caption ?? spec.text ?? ""),
      pre: prePlainText(at, author),
    };
  }

  // WhatsApp shows downloaded media from blob: URLs.
  let blobUrl = null;
  function imageUrl() {
    if (!blobUrl) {
      const gif = Uint8Array.from(atob("R0lGODlhAQABAIAAAIaWoP///yH5BAAAAAAALAAAAAABAAEAAAICRAEAOw=="), (c) => c.charCodeAt(0));
      blobUrl = URL.createObjectURL(new Blob([gif], { type: "image/gif" }));
    }
    return blobUrl;
  }

  function textBlock(message) {
    return el("div", { stableClass: "copyable-text", "data-pre-plain-text": message.pre }, [
      el("div", {}, [el("span", { stableClass: "selectable-text copyable-text", dir: "ltr" },
        [el("span", {}, [message.text])])]),
    ]);
  }

  function renderRow(message) {
    const parts = [];
    if (message.isGroup && !message.outgoing) {
      parts.push(el("span", { dir: "auto", "aria-label": message.author }, [message.author],
        "display:block;font-size:12.5px;color:#1fa855;font-weight:600"));
    }
    if (message.type === "image") {
      parts.push(el("div", { role: "button", "aria-label": "Open picture" }, [
        el("img", { alt: "", src: imageUrl() }),
      ]));
      if (message.text) parts.push(textBlock(message));
    } else if (message.type === "audio") {
      parts.push(el("div", {}, [
        el("button", { "aria-label": "Play voice message" }, [el("span", { "data-icon": "audio-play" }, ["▶"])]),
        el("div", { role: "slider", "aria-valuemin": "0", "aria-valuemax": "7", "aria-valuenow": "0" }),
        el("span", { "aria-hidden": "true" }, ["0:07"]),
      ], "display:flex;gap:8px;align-items:center;min-width:200px"));
    } else {
      parts.push(textBlock(message));
    }
    parts.push(el("span", { dir: "auto" }, [clock(message.at)],
      "display:block;text-align:right;font-size:11px;color:#667781"));
    const bubble = el("div", { [state.idAttribute]: message.dataId, tabindex: "-1" }, parts);
    return el("div", { role: "row" }, [bubble]);
  }

  function markAdded(messages) {
    const wall = Date.now();
    const perf = performance.now();
    for (const m of messages) state.added[m.dataId] = { wall, perf };
  }

  function addMessages(specs, { prepend = false } = {}) {
    const messages = specs.map(makeMessage);
    const byChat = new Map();
    for (const m of messages) {
      const list = state.chats.get(m.chat).messages;
      if (prepend) list.unshift(m); else list.push(m);
      if (!byChat.has(m.chat)) byChat.set(m.chat, []);
      byChat.get(m.chat).push(m);
    }
    const open = byChat.get(state.openJid);
    if (open) {
      const pane = document.querySelector("#main [role='application']");
      const fragment = document.createDocumentFragment();
      for (const m of open) fragment.append(renderRow(m));
      markAdded(open);
      if (prepend) pane.prepend(fragment); else pane.append(fragment);
      if (!prepend) pane.scrollTop = pane.scrollHeight;
    }
    return messages.map((m) => m.dataId);
  }

  function addMessage(spec) {
    return addMessages([spec])[0];
  }

  // n older messages at the top of the open chat in one batch, as WhatsApp loads them when scrolling up.
  function loadHistory(n, { chat, inbound = 0.6, start } = {}) {
    const jid = chat || state.openJid;
    const c = state.chats.get(jid);
    const oldest = c.messages.length ? c.messages[0].at : Date.now();
    const first = start ?? oldest - n * 60000;
    const specs = [];
    for (let i = 0; i < n; i += 1) {
      const incoming = (i * 7919) % 100 < inbound * 100;
      specs.push({ chat: jid, direction: incoming ? "in" : "out", at: first + i * 60000,
        text: `${incoming ? "Cliente" : "Loja"}: mensagem antiga ${i + 1} de ${n}` });
    }
    return addMessages(specs, { prepend: jid === state.openJid });
  }

  // -- the page ---------------------------------------------------------------------------------------------

  function renderShell() {
    const app = document.getElementById("app");
    app.replaceChildren(
      el("div", { id: "side" }, [el("header", {}), el("div", { id: "pane-side" }, [el("div", { role: "grid" })])]),
      el("div", { id: "intro" }, ["Open a chat to start messaging"]),
    );
    renderChatList();
  }

  function renderChatList() {
    const grid = document.querySelector("#pane-side [role='grid']");
    if (!grid) return;
    grid.replaceChildren(...[...state.chats.values()].map((chat) => {
      const item = el("div", { role: "listitem", tabindex: "-1", "aria-selected": String(chat.jid === state.openJid) },
        [el("span", { dir: "auto", title: chat.name }, [chat.name])]);
      item.addEventListener("click", () => openChat(chat.jid));
      return item;
    }));
  }

  function openChat(jid) {
    const chat = state.chats.get(jid);
    if (!chat) throw new Error(`no such chat: ${jid}`);
    state.openJid = jid;
    state.composeModel = "";
    const header = el("header", {}, [el("div", {}, [
      el("span", { dir: "auto", title: chat.name }, [chat.name]),
      ...(chat.members.length
        ? [el("span", { title: `${chat.members.map((m) => m.name).join(", ")}, You` },
          [chat.members.map((m) => m.name).join(", ")], "display:block;font-weight:400;font-size:12px;color:#667781")]
        : []),
    ])]);
    const pane = el("div", { role: "application", tabindex: "0" });
    const fragment = document.createDocumentFragment();
    for (const m of chat.messages) fragment.append(renderRow(m));
    pane.append(fragment);
    markAdded(chat.messages);
    const main = el("div", { id: "main" }, [header, pane, renderFooter()]);
    const old = document.getElementById("main") || document.getElementById("intro");
    old.replaceWith(main);
    pane.scrollTop = pane.scrollHeight;
    renderChatList();
    return chat.messages.length;
  }

  // A chat's title changes (e.g. an @lid chat that now shows the contact's phone number); the open chat re-renders.
  function renameChat(jid, name) {
    state.chats.get(jid).name = name;
    if (state.openJid === jid) {
      const title = document.querySelector("#main header span[title]");
      title.setAttribute("title", name);
      title.textContent = name;
    }
    renderChatList();
  }

  function closeChat() {
    state.openJid = null;
    const main = document.getElementById("main");
    if (main) main.replaceWith(el("div", { id: "intro" }, ["Open a chat to start messaging"]));
    renderChatList();
  }

  // -- the compose box: a minimal editor that owns its text --------------------------------------------------

  function renderFooter() {
    const box = el("div", { contenteditable: "true", role: "textbox", "aria-label": "Type a message",
      "aria-multiline": "true", spellcheck: "true", "data-lexical-editor": "true", tabindex: "10" });
    renderCompose(box);
    box.addEventListener("beforeinput", (event) => {
      // Like Lexical: the editor applies the edit to its model and renders it; the browser's default is cancelled.
      if (event.inputType.startsWith("insert") && event.inputType !== "insertParagraph") {
        event.preventDefault();
        const data = event.data ?? event.dataTransfer?.getData("text/plain") ?? "";
        state.composeModel = replaceSelection(box, data);
        renderCompose(box);
      } else if (event.inputType.startsWith("delete")) {
        event.preventDefault();
        state.composeModel = replaceSelection(box, "", true);
        renderCompose(box);
      }
    });
    // Edits the browser made itself (execCommand('insertText') fires no beforeinput) reach the model here.
    box.addEventListener("input", () => { state.composeModel = domText(box); });
    box.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey) {
        event.preventDefault();
        send("enter");
      }
    });
    const button = el("button", { "aria-label": "Send", "data-tab": "11", type: "button" },
      [el("span", { "data-icon": "send" }, ["➤"])]);
    button.addEventListener("click", () => send("button"));
    return el("footer", {}, [box, button]);
  }

  function domText(box) {
    return box.innerText.replace(/\n$/, "");
  }

  // The model's text with the current selection (inside the box) replaced by data, as an editor does: a partial
  // selection (e.g. a "/shortcut" the extension selected) replaces only that part; a caret inserts (or, deleting,
  // removes the character before it); no selection in the box appends.
  function replaceSelection(box, data, deleting = false) {
    const text = state.composeModel;
    const selection = document.getSelection();
    if (!selection || !selection.rangeCount || !box.contains(selection.anchorNode)) {
      return deleting ? text.slice(0, -1) : text + data;
    }
    const range = selection.getRangeAt(0);
    let start = offsetInBox(box, range.startContainer, range.startOffset);
    const end = offsetInBox(box, range.endContainer, range.endOffset);
    if (deleting && start === end) start = Math.max(0, start - 1);
    return text.slice(0, start) + data + text.slice(end);
  }

  function offsetInBox(box, node, offset) {
    const before = document.createRange();
    before.selectNodeContents(box);
    before.setEnd(node, offset);
    return Math.min(before.toString().length, state.composeModel.length);
  }

  function renderCompose(box) {
    const p = el("p", { dir: "ltr" });
    if (state.composeModel) p.append(el("span", { "data-lexical-text": "true" }, [state.composeModel]));
    else p.append(document.createElement("br"));
    box.replaceChildren(p);
    // caret at the end, as after typing
    if (document.activeElement === box) {
      const range = document.createRange();
      range.selectNodeContents(box);
      range.collapse(false);
      const selection = document.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
    }
  }

  function send(via) {
    const box = document.querySelector("#main footer [contenteditable='true']");
    state.sent.push({ text: state.composeModel, via });
    state.composeModel = "";
    if (box) renderCompose(box);
  }

  // -- simulating a WhatsApp release that renames the row attribute ----------------------------------------

  function breakSelectors(newName = "data-msg-key") {
    const old = state.idAttribute;
    state.idAttribute = newName;
    for (const node of document.querySelectorAll(`#main [${old}]`)) {
      node.setAttribute(newName, node.getAttribute(old));
      node.removeAttribute(old);
    }
    return document.querySelectorAll(`#main [${newName}]`).length;
  }

  // -- the default chats ------------------------------------------------------------------------------------

  const CHATS = {
    phone: "5511987654321@c.us",
    lid: "203741512345678@lid",
    group: "120363025246125888@g.us",
  };
  const MEMBERS = {
    phone: { jid: "5511912345678@c.us", name: "Ana Souza" },
    lid: { jid: "88877766655544@lid", name: "Bruno Lima" },
  };
  addChat({ jid: CHATS.phone, name: "Maria Silva" });
  addChat({ jid: CHATS.lid, name: "Carlos Mendes" });
  addChat({ jid: CHATS.group, name: "Clientes VIP", members: [MEMBERS.phone, MEMBERS.lid] });
  renderShell();

  window.fakeWA = {
    CHATS, MEMBERS, ME,
    addChat, openChat, closeChat, renameChat, addMessage, addMessages, loadHistory, breakSelectors,
    get openJid() { return state.openJid; },
    get added() { return state.added; },
    get sent() { return state.sent.slice(); },
    composeText: () => state.composeModel,
    composeDomText: () => {
      const box = document.querySelector("#main footer [contenteditable='true']");
      return box ? domText(box) : null;
    },
    rowCount: () => document.querySelectorAll(`#main [${state.idAttribute}]`).length,
    rowIds: () => [...document.querySelectorAll(`#main [${state.idAttribute}]`)]
      .map((n) => n.getAttribute(state.idAttribute)),
    ready: true,
  };
})();
