// Content scripts declared in a manifest cannot be ES modules: this classic script imports the real one.
// `chrome` exists in Chromium and Firefox content scripts alike; spelled this way, linters recognise the
// argument as the extension's own URL (web-ext lint flags any other dynamic import).
(async () => {
  try {
    const { main } = await import(chrome.runtime.getURL("src/content/main.js"));
    main(document);
  } catch (error) {
    console.error("[crm-agent] the content script did not load", error);
  }
})();
