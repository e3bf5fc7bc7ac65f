// EVERY selector the content script uses, in one place, with a version reported to the agent
// (POST /api/extension/status selectors_version). Only attributes that have held for years on WhatsApp Web:
// ids, data-* attributes, roles, element names. Never obfuscated class names (they change every release).
// When WhatsApp changes its markup, this file is the one to edit; bump SELECTORS_VERSION with it.

export const SELECTORS_VERSION = "2026.12-1";

export const SELECTORS = Object.freeze({
  mainId: "main", // the open chat: document.getElementById("main") — "#main"
  header: "header", // inside #main: the chat header ("#main header"); a chat is open when it exists
  chatTitle: "header span[title]", // inside #main: "#main header span[title]", the contact or group name
  row: "[data-id]", // a message row: "#main [data-id]", data-id = {true|false}_{chatJid}_{msgId}[_{participant}]
  prePlainText: "[data-pre-plain-text]", // inside a row: "[10:32, 05/12/2024] Ana: " in the user's locale
  text: ".copyable-text .selectable-text", // inside a row: the message text or a media caption
  compose: 'footer [contenteditable="true"]', // inside #main: the message box ("#main footer [contenteditable]")
});

// Media hints, checked in this order inside a row (the first that matches gives the type). Only stable hints:
// element names, blob: sources, data-icon names. A media message sends its type and caption, never bytes.
export const MEDIA_HINTS = Object.freeze([
  ["document", '[data-icon="document"], [data-icon^="document-"], [data-icon="audio-file"]'],
  ["audio", 'audio, [data-icon="audio-play"], [data-icon="ptt-play"], [data-icon="audio-download"]'],
  ["video", 'video, [data-icon="video-pip"], [data-icon="media-play"], [data-icon="media-gif"]'],
  ["location", 'a[href*="maps.google."], a[href*="google.com/maps"], [data-icon="location"]'],
  ["contact", '[data-icon="vcard"], [data-icon="default-contact"]'],
  ["sticker", '[data-icon="sticker"], img[src^="blob:"][alt="sticker"]'],
  ["image", 'img[src^="blob:"], [data-icon="media-image"]'],
]);

// Emoji are images with the character in alt: read them as text so "👍" is not lost.
export const EMOJI_IMAGE = "img[alt]";
