// Derive Firefox's manifest from the Chromium one (extension/manifest.json stays the single source).
// Usage: node scripts/firefox-manifest.js <in manifest.json> <out manifest.json>
import { readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const GECKO_ID = "crm-agent@crm-agent.local";
export const FIREFOX_MIN_VERSION = "140.0"; // ESR 140: MV3, module background scripts, data_collection_permissions
export const FIREFOX_ANDROID_MIN_VERSION = "142.0"; // first to know data_collection_permissions

export function firefoxManifest(chromium) {
  const manifest = structuredClone(chromium);
  delete manifest.key; // Chromium's fixed development id; Firefox uses gecko.id (and a random per-install UUID origin)
  delete manifest.minimum_chrome_version;
  manifest.background = { scripts: [chromium.background.service_worker], type: "module" };
  manifest.web_accessible_resources = chromium.web_accessible_resources.map(({ use_dynamic_url: _dynamic, ...rest }) => rest);
  manifest.browser_specific_settings = {
    gecko: {
      id: GECKO_ID,
      strict_min_version: FIREFOX_MIN_VERSION,
      data_collection_permissions: { required: ["none"] }, // nothing leaves the machine: data goes to the local agent
    },
    gecko_android: { strict_min_version: FIREFOX_ANDROID_MIN_VERSION },
  };
  return manifest;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  const [input, output] = process.argv.slice(2);
  const chromium = JSON.parse(readFileSync(input, "utf8"));
  writeFileSync(output, `${JSON.stringify(firefoxManifest(chromium), null, 2)}\n`);
}
