import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { GECKO_ID, firefoxManifest } from "../../scripts/firefox-manifest.js";

const manifestUrl = new URL("../manifest.json", import.meta.url);
const chromium = JSON.parse(readFileSync(manifestUrl, "utf8"));

test("the Chromium manifest is MV3 with what the contract needs", () => {
  assert.equal(chromium.manifest_version, 3);
  assert.equal(chromium.minimum_chrome_version, "116");
  assert.deepEqual(chromium.background, { service_worker: "background.js", type: "module" });
  for (const origin of ["http://127.0.0.1/*", "http://localhost/*", "https://web.whatsapp.com/*"]) {
    assert.ok(chromium.host_permissions.includes(origin), origin);
  }
  assert.deepEqual(chromium.web_accessible_resources.map((w) => w.matches), [["https://web.whatsapp.com/*"]]);
});

test("EXTENSION_ID is derived from the manifest key (SHA-256 of the DER, a-p)", () => {
  const der = Buffer.from(chromium.key, "base64");
  const hex = createHash("sha256").update(der).digest("hex").slice(0, 32);
  const id = [...hex].map((c) => String.fromCharCode(97 + parseInt(c, 16))).join("");
  assert.equal(readFileSync(new URL("../EXTENSION_ID", import.meta.url), "utf8").trim(), id);
});

test("the Firefox manifest uses background scripts, a gecko id and no Chromium-only keys", () => {
  const firefox = firefoxManifest(chromium);
  assert.deepEqual(firefox.background, { scripts: ["background.js"], type: "module" });
  assert.equal(firefox.browser_specific_settings.gecko.id, GECKO_ID);
  assert.ok(firefox.browser_specific_settings.gecko.strict_min_version);
  assert.equal(firefox.key, undefined);
  assert.equal(firefox.minimum_chrome_version, undefined);
  assert.ok(firefox.web_accessible_resources.every((w) => !("use_dynamic_url" in w)));
  assert.ok(chromium.key, "the source manifest is not modified");
});
