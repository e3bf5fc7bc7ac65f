// Pure parsing of WhatsApp Web row data into the agent's capture body (docs/extension-protocol.md, "Capture").
// No DOM and no extension API here: the content script extracts raw fields, this module shapes them.

const JID_KINDS = { "c.us": "phone", lid: "lid", "g.us": "group" };
const JID_PATTERN = /^([^@\s_]+)@(c\.us|lid|g\.us)$/;
const MESSAGE_TYPES = new Set(["text", "image", "audio", "video", "document", "sticker", "location", "contact"]);

/** The kind of a JID: "phone" (@c.us), "lid" (@lid, phone hidden), "group" (@g.us), or null. */
export function jidKind(jid) {
  const match = JID_PATTERN.exec(jid ?? "");
  return match ? JID_KINDS[match[2]] : null;
}

/**
 * Split a row's data-id `{true|false}_{chatJid}_{msgId}[_{participantJid}]`.
 * Message ids are hex/alphanumeric without "_" and JIDs hold no "_", so "_" is a safe separator.
 * Returns null for anything else (a status row, a future format): never guess.
 */
export function parseDataId(dataId) {
  if (typeof dataId !== "string") return null;
  const parts = dataId.split("_");
  if (parts.length !== 3 && parts.length !== 4) return null;
  const [direction, chatJid, msgId, participant] = parts;
  if (direction !== "true" && direction !== "false") return null;
  const kind = jidKind(chatJid);
  if (!kind || !/^[A-Za-z0-9]+$/.test(msgId)) return null;
  if (participant !== undefined) {
    const participantKind = jidKind(participant);
    if (kind !== "group" || (participantKind !== "phone" && participantKind !== "lid")) return null;
  }
  return { outgoing: direction === "true", chatJid, msgId, participant: participant ?? null, kind };
}

/** "+<digits>" from a "<digits>@c.us" JID, else null. */
export function phoneFromJid(jid) {
  const match = /^(\d{6,15})@c\.us$/.exec(jid ?? "");
  return match ? `+${match[1]}` : null;
}

/**
 * A chat title that is itself a phone number ("+55 11 98765-4321"): WhatsApp shows the number of a contact
 * the user has not saved, so for an @lid chat it is the phone the agent needs to merge that customer.
 */
export function phoneFromTitle(title) {
  const text = (title ?? "").trim();
  if (!/^\+[\d\s\-().]{6,24}$/.test(text)) return null;
  const digits = text.replace(/\D/g, "");
  return digits.length >= 7 && digits.length <= 15 ? `+${digits}` : null;
}

/** The sender name in a data-pre-plain-text such as "[10:32, 05/12/2024] Ana Souza: ". */
export function senderFromPrePlainText(prePlainText) {
  const match = /^\[[^\]]*\]\s?(.*?):\s*$/s.exec(prePlainText ?? "");
  const name = match ? match[1].trim() : "";
  return name || null;
}

/**
 * Build the capture body for one row.
 * fields: {dataId, text, type, prePlainText, chatTitle}; env: {now (epoch ms), locale, utcOffsetMin}.
 * Returns null when the data-id is not a message id (such rows are skipped, not sent).
 */
export function buildCapture(fields, env) {
  const id = parseDataId(fields.dataId);
  if (!id) return null;
  const chatTitle = cleanText(fields.chatTitle);
  const prePlainText = fields.prePlainText || null;
  const capture = {
    message_id: fields.dataId,
    chat_id: id.chatJid,
    content: fields.text ?? "",
    type: MESSAGE_TYPES.has(fields.type) ? fields.type : "text",
    direction: id.outgoing ? "out" : "in",
    timestamp: env.now,
  };
  const phone = id.kind === "phone" ? phoneFromJid(id.chatJid) : id.kind === "lid" ? phoneFromTitle(chatTitle) : null;
  if (phone) capture.phone = phone;
  if (id.participant && !id.outgoing) capture.participant = id.participant;
  const name = senderName(id, chatTitle, prePlainText);
  if (name) capture.name = name;
  if (chatTitle) capture.chat_name = chatTitle;
  if (prePlainText) capture.pre_plain_text = prePlainText;
  if (env.locale) capture.locale = env.locale;
  if (Number.isFinite(env.utcOffsetMin)) capture.utc_offset_min = env.utcOffsetMin;
  return capture;
}

// Group: a received message names its sender in pre_plain_text; a sent one belongs to the group (chat_name).
// One-to-one: the chat title is the contact's name as the user knows it, whichever the direction.
function senderName(id, chatTitle, prePlainText) {
  if (id.kind === "group") return id.outgoing ? null : senderFromPrePlainText(prePlainText);
  return chatTitle || (id.outgoing ? null : senderFromPrePlainText(prePlainText));
}

function cleanText(value) {
  const text = (value ?? "").trim();
  return text || null;
}

/** The capture environment of this browser: locale and offset from UTC, east positive. */
export function captureEnvironment(now, nav = globalThis.navigator) {
  return { now, locale: nav?.language ?? null, utcOffsetMin: -new Date(now).getTimezoneOffset() };
}

/**
 * Whether a live agent event concerns the chat the panel shows: message.captured carries the row's data-id
 * (its chat JID is inside), analysis.completed carries the conversation id the panel already knows.
 */
export function eventConcernsChat(event, chatId, conversationId) {
  const data = event?.data ?? {};
  if (data.chat_id && data.chat_id === chatId) return true;
  if (conversationId != null && data.conversation_id === conversationId) return true;
  const id = parseDataId(data.message_id);
  return Boolean(id && id.chatJid === chatId);
}
