"""One ttk theme for every window: colours, fonts scaled for the screen's DPI, named styles.

Windows use the style names below (e.g. `style="Card.TFrame"`) and `PALETTE` for matplotlib charts, so
every window and chart looks the same.
"""

from __future__ import annotations

import tkinter as tk
import tkinter.font as tkfont
from tkinter import ttk

PALETTE = {
    "bg": "#f4f6f8",
    "surface": "#ffffff",
    "text": "#1f2933",
    "muted": "#616e7c",
    "border": "#d9e2ec",
    "accent": "#128c7e",  # WhatsApp-like teal: the product's colour
    "accent_dark": "#075e54",
    "positive": "#2f9e44",
    "neutral": "#868e96",
    "negative": "#e03131",
    "warning": "#f08c00",
    "error_bg": "#fff5f5",
    "callout": "#e6f4f1",  # a pale accent: the dashboard's "Connect WhatsApp Web" invitation
    "error_text": "#c92a2a",
}

SENTIMENT_COLOURS = {"positive": PALETTE["positive"], "neutral": PALETTE["neutral"], "negative": PALETTE["negative"]}


def scale_for_dpi(root: tk.Tk) -> float:
    """Tk's scaling from the screen's real DPI (1.0 at 72 dpi), so fonts and sizes stay readable on high-DPI
    screens. Returns the factor relative to a 96 dpi screen for sizing windows."""
    dpi = root.winfo_fpixels("1i")
    root.tk.call("tk", "scaling", dpi / 72.0)
    return max(1.0, dpi / 96.0)


def apply_theme(root: tk.Tk) -> float:
    """Configure fonts and ttk styles once per process. Returns the DPI factor."""
    factor = scale_for_dpi(root)
    base = tkfont.nametofont("TkDefaultFont")
    base.configure(size=10)
    for name in ("TkTextFont", "TkMenuFont", "TkHeadingFont"):
        tkfont.nametofont(name).configure(size=10)
    tkfont.nametofont("TkFixedFont").configure(size=10)
    family = base.actual("family")

    style = ttk.Style(root)
    style.theme_use("clam")
    p = PALETTE
    root.configure(background=p["bg"])
    style.configure(".", background=p["bg"], foreground=p["text"])
    style.configure("TFrame", background=p["bg"])
    style.configure("TLabel", background=p["bg"], foreground=p["text"])
    style.configure("Muted.TLabel", foreground=p["muted"])
    style.configure("Title.TLabel", font=(family, 14, "bold"))
    style.configure("Section.TLabel", font=(family, 11, "bold"))
    style.configure("Card.TFrame", background=p["surface"], relief="solid", borderwidth=1)
    style.configure("CardTitle.TLabel", background=p["surface"], foreground=p["muted"], font=(family, 9))
    style.configure("CardValue.TLabel", background=p["surface"], foreground=p["text"], font=(family, 20, "bold"))
    style.configure("CardHeading.TLabel", background=p["surface"], foreground=p["text"], font=(family, 11, "bold"))
    style.configure("CardText.TLabel", background=p["surface"], foreground=p["text"])
    style.configure("CardMuted.TLabel", background=p["surface"], foreground=p["muted"])
    # The pairing code: read from across the desk and typed into the browser, digit by digit.
    style.configure("PairCode.TLabel", background=p["surface"], foreground=p["accent_dark"],
                    font=(family, 40, "bold"))
    style.configure("Callout.TFrame", background=p["callout"], relief="solid", borderwidth=1)
    style.configure("Callout.TLabel", background=p["callout"], foreground=p["text"], font=(family, 11))
    style.configure("Connected.TLabel", background=p["surface"], foreground=p["positive"], font=(family, 18, "bold"))
    style.configure("CardDelta.TLabel", background=p["surface"], foreground=p["muted"], font=(family, 9))
    style.configure("Up.CardDelta.TLabel", foreground=p["positive"])
    style.configure("Down.CardDelta.TLabel", foreground=p["negative"])
    style.configure("Empty.TLabel", foreground=p["muted"], font=(family, 11, "italic"))
    style.configure("Error.TFrame", background=p["error_bg"])
    style.configure("Error.TLabel", background=p["error_bg"], foreground=p["error_text"])
    style.configure("FieldError.TLabel", foreground=p["error_text"], font=(family, 9))
    style.configure("Small.Muted.TLabel", foreground=p["muted"], font=(family, 8))
    style.configure("Knowledge.TLabel", foreground=p["accent_dark"], font=(family, 9, "bold"))
    style.configure("Accent.TButton", background=p["accent"], foreground="#ffffff")
    style.map("Accent.TButton", background=[("active", p["accent_dark"]), ("disabled", p["border"])])
    style.configure("Treeview", rowheight=int(22 * factor), background=p["surface"], fieldbackground=p["surface"])
    style.configure("Treeview.Heading", font=(family, 10, "bold"))
    style.map("Treeview", background=[("selected", p["accent"])], foreground=[("selected", "#ffffff")])
    style.configure("TNotebook", background=p["bg"])
    style.configure("TNotebook.Tab", padding=(12, 4))
    return factor
