"""Render docs/config.md from the settings table: `python -m core.config_docs > docs/config.md`."""

from __future__ import annotations

import json

from core.config import SECTIONS, SETTINGS, takes_effect


def render_config_markdown() -> str:
    lines = [
        "# Configuration reference",
        "",
        "Generated from `core/config.py` by `python -m core.config_docs > docs/config.md`; a test keeps it current.",
        "",
        "`config.json` in the data directory holds only the settings you change, by section:",
        "",
        "```json",
        '{"server": {"port": 8080}, "security": {"extension_origins": ["chrome-extension://<id>"]}}',
        "```",
        "",
        "Check a file with `python agent.py config check` (exit 1 names the bad key); print the effective",
        "settings with `python agent.py config show`. Environment variables `CRM_AGENT__SECTION__KEY=<json>`",
        "override the file (handy in containers and tests).",
        "",
    ]
    for section in SECTIONS:
        lines += [f"## {section}", "", "| key | label | default | takes effect | meaning |",
                  "|---|---|---|---|---|"]
        for setting in SETTINGS:
            if setting.section != section:
                continue
            default = json.dumps(setting.default, ensure_ascii=False)
            meaning = setting.help.replace("|", "/")
            lines.append(f"| `{setting.key}` | {setting.label} | `{default}` | {takes_effect(setting)} | {meaning} |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    print(render_config_markdown(), end="")
