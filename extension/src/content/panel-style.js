// The panel's styles, applied inside its shadow root so WhatsApp's CSS and ours never meet. System fonts only.
export const PANEL_CSS = `
:host { all: initial; }
.panel { box-sizing: border-box; width: 280px; max-height: calc(100vh - 170px); display: flex; flex-direction: column;
  font: 13px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2933; background: #ffffff;
  border: 1px solid #d9e2ec; border-radius: 10px; box-shadow: 0 4px 16px rgba(15, 23, 42, 0.12); overflow: hidden; }
.panel[data-collapsed="true"] { width: auto; }
.panel[data-collapsed="true"] .body { display: none; }
.bar { display: flex; align-items: center; justify-content: space-between; gap: 8px; padding: 6px 8px 6px 12px;
  background: #f0f7f4; border-bottom: 1px solid #d9e2ec; }
.panel[data-collapsed="true"] .bar { border-bottom: 0; }
.brand { font-weight: 600; color: #0b6e4f; white-space: nowrap; }
button { font: inherit; cursor: pointer; border-radius: 6px; border: 1px solid #b6d7c9; background: #ffffff; color: #0b6e4f;
  padding: 3px 9px; }
button:hover { background: #e6f4ee; }
button:focus-visible { outline: 2px solid #25a36f; outline-offset: 1px; }
.icon { border: 0; background: transparent; padding: 2px 6px; font-size: 15px; line-height: 1; color: #486581; }
.body { overflow-y: auto; padding: 10px 12px 12px; display: flex; flex-direction: column; gap: 10px; }
.notice { padding: 8px 10px; border-radius: 8px; background: #fff8e6; color: #7a5a00; }
.notice.off { background: #fdecec; color: #8a1c1c; }
.muted { color: #627d98; }
h3 { margin: 0 0 4px; font-size: 11px; font-weight: 600; letter-spacing: 0.04em; text-transform: uppercase; color: #627d98; }
.name { font-size: 15px; font-weight: 600; }
dl { margin: 4px 0 0; display: grid; grid-template-columns: auto 1fr; gap: 2px 10px; }
dt { color: #627d98; }
dd { margin: 0; }
.tags { display: flex; flex-wrap: wrap; gap: 4px; margin-top: 4px; }
.tag { background: #e6f0fa; color: #1c4f82; border-radius: 999px; padding: 1px 8px; font-size: 12px; }
.preview { margin: 0 0 4px; padding: 6px 8px; background: #f7f9fb; border-radius: 6px; font-style: italic;
  overflow-wrap: anywhere; }
.chips { display: flex; flex-wrap: wrap; gap: 6px; }
.chip { border-radius: 6px; padding: 2px 8px; background: #eef2f7; }
.chip[data-sentiment="positive"] { background: #e3f8ec; color: #0b6e4f; }
.chip[data-sentiment="negative"] { background: #fdecec; color: #8a1c1c; }
.reply { border: 1px solid #e4e7eb; border-radius: 8px; padding: 6px 8px; display: flex; flex-direction: column; gap: 6px; }
.reply p { margin: 0; overflow-wrap: anywhere; white-space: pre-wrap; }
.reply button { align-self: flex-end; }
.feedback { min-height: 1em; font-size: 12px; color: #0b6e4f; }
.source { align-self: flex-start; font-size: 11.5px; font-weight: 600; color: #1c4f82; background: #e6f0fa;
  border-radius: 999px; padding: 1px 8px; overflow-wrap: anywhere; }
.reply[data-grounded="true"] { border-color: #9fc3e7; }
.draft-text { margin: 0 0 6px; padding: 6px 8px; border: 1px dashed #b6d7c9; border-radius: 8px; background: #fbfefc;
  white-space: pre-wrap; overflow-wrap: anywhere; min-height: 1.4em; }
.actions { display: flex; align-items: center; justify-content: flex-end; gap: 8px; }
.actions .muted { margin-right: auto; }
`;
