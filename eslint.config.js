// ESLint flat config for the browser extension (extension/) and its Node tooling.
import js from "@eslint/js";
import globals from "globals";

export default [
  { ignores: ["node_modules/**", "build/**", "dist/**", ".venv/**"] },
  js.configs.recommended,
  {
    files: ["extension/**/*.js"],
    languageOptions: {
      ecmaVersion: 2023,
      sourceType: "module",
      globals: { ...globals.browser, ...globals.webextensions },
    },
    rules: {
      "no-unused-vars": ["error", { argsIgnorePattern: "^_" }],
      "prefer-const": "error",
      eqeqeq: ["error", "smart"],
      "no-restricted-properties": ["error",
        { property: "innerHTML", message: "Build DOM with createElement/textContent (agent and page text is never HTML)." },
        { property: "outerHTML", message: "Build DOM with createElement/textContent." },
        { property: "insertAdjacentHTML", message: "Build DOM with createElement/textContent." }],
      "no-eval": "error",
      "no-implied-eval": "error",
    },
  },
  {
    files: ["extension/content.js"],
    languageOptions: { sourceType: "script" },
  },
  {
    files: ["extension/test/**/*.js", "eslint.config.js", "scripts/**/*.js"],
    languageOptions: { globals: { ...globals.node } },
    rules: {
      "no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "no-restricted-properties": "off", // tests build fixture markup; the rule guards the extension's own code
    },
  },
];
