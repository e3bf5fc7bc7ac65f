// MV3 background (a module service worker on Chromium, a module background script on Firefox).
import { Background } from "./src/background/main.js";
import { ext } from "./src/lib/browser.js";

const background = new Background({ api: ext });
background.listen();
background.start();

// Diagnostics and end-to-end tests (Playwright's sw.evaluate): `crmAgent.state()`, `crmAgent.flush()`,
// `crmAgent.queue.pending()`. Nothing here is reachable from web pages or content scripts.
globalThis.crmAgent = background;
