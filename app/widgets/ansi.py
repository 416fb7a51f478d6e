"""ANSI SGR colour codes in log lines, split into styled runs for painting.

Only colour and weight (SGR) are rendered; any other escape sequence (cursor
movement, erase, OSC titles) is dropped, since a log line has no screen to
move on.  Pure functions, no Qt.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: CSI (parameter bytes 0x30-0x3F, intermediates 0x20-0x2F, a final byte), OSC (to BEL
#: or ST, or the end of the line), or a two-character escape.
_ESCAPE = re.compile(r"\x1b(?:\[([0-?]*)[ -/]*([@-~])|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])")

#: xterm's 16 colours; index 0-7 normal, 8-15 bright.
ANSI_COLOURS = (
    "#000000", "#cd0000", "#00cd00", "#cdcd00", "#0000ee", "#cd00cd", "#00cdcd", "#e5e5e5",
    "#7f7f7f", "#ff0000", "#00ff00", "#ffff00", "#5c5cff", "#ff00ff", "#00ffff", "#ffffff",
)


def xterm_256(index: int) -> str:
    if index < 16:
        return ANSI_COLOURS[index]
    if index < 232:
        index -= 16
        steps = (0, 95, 135, 175, 215, 255)
        r, g, b = steps[index // 36], steps[(index // 6) % 6], steps[index % 6]
        return f"#{r:02x}{g:02x}{b:02x}"
    level = 8 + (index - 232) * 10
    return f"#{level:02x}{level:02x}{level:02x}"


@dataclass(frozen=True, slots=True)
class Style:
    fg: str | None = None
    bg: str | None = None
    bold: bool = False
    italic: bool = False
    underline: bool = False


@dataclass(frozen=True, slots=True)
class Run:
    text: str
    style: Style


PLAIN = Style()


def strip_ansi(text: str) -> str:
    """The text a user reads (and searches): every escape sequence removed."""
    return _ESCAPE.sub("", text) if "\x1b" in text else text


#: Parameters are clamped to this (as xterm caps them): a number of thousands of
#: digits is a container's to print, but ``int`` refuses more than 4,300.
_PARAM_MAX = 65535


def _param(text: str) -> int:
    """One SGR parameter: digits only (else 0), leading zeros ignored, clamped."""
    if not text.isdigit():  # the pattern lets only ASCII digits through
        return 0
    digits = text.lstrip("0")
    return min(int(digits or "0"), _PARAM_MAX) if len(digits) <= 5 else _PARAM_MAX


def _apply_sgr(style: Style, params: str) -> Style:
    if params[:1] in ("<", "=", ">", "?"):  # a private sequence (a query): not a style
        return style
    codes = [_param(p) for p in params.replace(":", ";").split(";")]
    fg, bg, bold, italic, underline = style.fg, style.bg, style.bold, style.italic, style.underline
    i = 0
    while i < len(codes):
        code = codes[i]
        if code == 0:
            fg, bg, bold, italic, underline = None, None, False, False, False
        elif code == 1:
            bold = True
        elif code == 3:
            italic = True
        elif code == 4:
            underline = True
        elif code == 22:
            bold = False
        elif code == 23:
            italic = False
        elif code == 24:
            underline = False
        elif 30 <= code <= 37:
            fg = ANSI_COLOURS[code - 30]
        elif 90 <= code <= 97:
            fg = ANSI_COLOURS[code - 90 + 8]
        elif 40 <= code <= 47:
            bg = ANSI_COLOURS[code - 40]
        elif 100 <= code <= 107:
            bg = ANSI_COLOURS[code - 100 + 8]
        elif code == 39:
            fg = None
        elif code == 49:
            bg = None
        elif code in (38, 48) and i + 1 < len(codes):
            colour = None
            if codes[i + 1] == 5 and i + 2 < len(codes):
                colour = xterm_256(codes[i + 2] % 256)
                i += 2
            elif codes[i + 1] == 2 and i + 4 < len(codes):
                r, g, b = (min(c, 255) for c in codes[i + 2 : i + 5])
                colour = f"#{r:02x}{g:02x}{b:02x}"
                i += 4
            if code == 38:
                fg = colour
            else:
                bg = colour
        i += 1
    return Style(fg, bg, bold, italic, underline)


def ansi_runs(text: str, style: Style = PLAIN) -> list[Run]:
    """Split a line into runs of one style each, escape sequences consumed."""
    if "\x1b" not in text:
        return [Run(text, style)] if text else []
    runs: list[Run] = []
    position = 0
    for match in _ESCAPE.finditer(text):
        if match.start() > position:
            runs.append(Run(text[position : match.start()], style))
        if match.group(2) == "m":
            style = _apply_sgr(style, match.group(1) or "0")
        position = match.end()
    if position < len(text):
        runs.append(Run(text[position:], style))
    return runs
