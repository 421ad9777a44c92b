"""The icon and the Windows version resource, generated from the agent's version."""

from __future__ import annotations

import re
from pathlib import Path

from phonet_build.common import APP_NAME, EXE_NAME

COMPANY = "Phonet"
ICON_SIZES = [16, 24, 32, 48, 64, 128, 256]


def make_icon(path: Path) -> Path:
    """A multi-size .ico: a blue rounded square with a white "P" (until the tray's own
    artwork lands in the package; then this reads it)."""
    from PIL import Image, ImageDraw, ImageFont

    size = 256
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((8, 8, size - 8, size - 8), radius=48, fill=(0, 110, 200, 255))
    font = ImageFont.load_default(size=190)
    draw.text((size / 2, size / 2), "P", fill="white", font=font, anchor="mm")
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format="ICO", sizes=[(s, s) for s in ICON_SIZES])
    image.save(path.with_suffix(".png"))
    return path


def version_tuple(version: str) -> tuple[int, int, int, int]:
    """ "0.1.0" -> (0, 1, 0, 0); a suffix such as "rc1" or ".dev3" is dropped."""
    numbers: list[int] = []
    for part in version.split(".")[:4]:
        leading = re.match(r"\d+", part)
        if leading is None:
            break
        numbers.append(int(leading.group()))
        if leading.end() < len(part):  # "3rc1": the rest is a pre-release tag
            break
    while len(numbers) < 4:
        numbers.append(0)
    return (numbers[0], numbers[1], numbers[2], numbers[3])


def version_file_text(version: str) -> str:
    """PyInstaller's --version-file format (a VSVersionInfo literal)."""
    v = version_tuple(version)
    strings = {
        "CompanyName": COMPANY,
        "FileDescription": APP_NAME,
        "FileVersion": version,
        "InternalName": EXE_NAME,
        "LegalCopyright": f"© {COMPANY}",
        "OriginalFilename": f"{EXE_NAME}.exe",
        "ProductName": APP_NAME,
        "ProductVersion": version,
    }
    table = ",\n          ".join(f"StringStruct({k!r}, {val!r})" for k, val in strings.items())
    return f"""# UTF-8
VSVersionInfo(
  ffi=FixedFileInfo(filevers={v}, prodvers={v}, mask=0x3f, flags=0x0, OS=0x40004,
                    fileType=0x1, subtype=0x0, date=(0, 0)),
  kids=[
    StringFileInfo([
      StringTable('040904B0', [
          {table}])]),
    VarFileInfo([VarStruct('Translation', [1033, 1200])])
  ]
)
"""
