// One source for Chromium and Firefox: Firefox provides `browser` (promises), Chromium `chrome` (promises in MV3).
export const ext = globalThis.browser ?? globalThis.chrome;
