"""The base icon (a chat bubble), drawn with Pillow. `python -m tray.artwork` rewrites assets/icon.*."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

ASSETS = Path(__file__).resolve().parent.parent / "assets"
BUBBLE = (37, 99, 235, 255)  # blue
DOTS = (255, 255, 255, 255)


def draw_bubble(size: int) -> Image.Image:
    """A rounded speech bubble with three dots, on a transparent background, drawn at 4x and scaled down."""
    scale = 4
    s = size * scale
    image = Image.new("RGBA", (s, s), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    pad = s * 0.06
    body = (pad, pad + s * 0.04, s - pad, s * 0.74)
    draw.rounded_rectangle(body, radius=s * 0.2, fill=BUBBLE)
    tail = [(s * 0.24, s * 0.66), (s * 0.46, s * 0.70), (s * 0.16, s * 0.93)]
    draw.polygon(tail, fill=BUBBLE)
    cy = (body[1] + body[3]) / 2
    r = s * 0.065
    for cx in (s * 0.30, s * 0.50, s * 0.70):
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=DOTS)
    return image.resize((size, size), Image.LANCZOS)


def write_assets(directory: Path = ASSETS) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    big = draw_bubble(256)
    written = []
    for size in (64, 256):
        path = directory / f"icon-{size}.png"
        (big if size == 256 else draw_bubble(size)).save(path)
        written.append(path)
    icon_png = directory / "icon.png"
    big.save(icon_png)
    ico = directory / "icon.ico"
    big.save(ico, sizes=[(16, 16), (24, 24), (32, 32), (48, 48), (64, 64), (128, 128), (256, 256)])
    return [*written, icon_png, ico]


if __name__ == "__main__":
    for path in write_assets():
        print(path)
