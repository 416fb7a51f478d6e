"""What a key press sends to the program, byte for byte as xterm sends it.

A pure function of the key, the modifiers and two terminal modes, so the table
can be tested without a window.  References: xterm's ctlseqs ("PC-Style
Function Keys", "Alt and Meta Keys") and what ``showkey -a`` prints in xterm.
"""

from __future__ import annotations

from PySide6.QtCore import Qt

Key = Qt.Key
Mod = Qt.KeyboardModifier

ESC = "\x1b"
CSI = ESC + "["
SS3 = ESC + "O"

#: Cursor keys: final byte of ``CSI A`` / ``SS3 A``.
_CURSOR = {Key.Key_Up: "A", Key.Key_Down: "B", Key.Key_Right: "C", Key.Key_Left: "D",
           Key.Key_Home: "H", Key.Key_End: "F"}
#: Keys sent as ``CSI n ~``.
_TILDE = {Key.Key_Insert: 2, Key.Key_Delete: 3, Key.Key_PageUp: 5, Key.Key_PageDown: 6,
          Key.Key_F5: 15, Key.Key_F6: 17, Key.Key_F7: 18, Key.Key_F8: 19, Key.Key_F9: 20,
          Key.Key_F10: 21, Key.Key_F11: 23, Key.Key_F12: 24}
#: F1-F4 are ``SS3 P``…``SS3 S``.
_PF = {Key.Key_F1: "P", Key.Key_F2: "Q", Key.Key_F3: "R", Key.Key_F4: "S"}
#: Control combinations for the punctuation keys that have one.
_CTRL_PUNCT = {Key.Key_At: "\x00", Key.Key_Space: "\x00", Key.Key_BracketLeft: "\x1b",
               Key.Key_Backslash: "\x1c", Key.Key_BracketRight: "\x1d",
               Key.Key_AsciiCircum: "\x1e", Key.Key_Underscore: "\x1f",
               Key.Key_Minus: "\x1f", Key.Key_Question: "\x7f", Key.Key_2: "\x00",
               Key.Key_6: "\x1e", Key.Key_Slash: "\x1f"}


def _modifier_code(modifiers: Qt.KeyboardModifier) -> int:
    """xterm's modifier parameter: 1 + shift(1) + alt(2) + ctrl(4); 1 means none."""
    code = 1
    if modifiers & Mod.ShiftModifier:
        code += 1
    if modifiers & Mod.AltModifier:
        code += 2
    if modifiers & Mod.ControlModifier:
        code += 4
    return code


def encode_key(
    key: int,
    modifiers: Qt.KeyboardModifier,
    text: str,
    *,
    application_cursor: bool = False,
) -> bytes | None:
    """The bytes for one key press, or None when the key sends nothing (a lone Shift)."""
    qkey = Key(key) if not isinstance(key, Key) else key
    mods = modifiers & (Mod.ShiftModifier | Mod.AltModifier | Mod.ControlModifier)
    code = _modifier_code(mods)

    if qkey in _CURSOR:
        final = _CURSOR[qkey]
        if code != 1:
            return f"{CSI}1;{code}{final}".encode()
        return f"{SS3 if application_cursor else CSI}{final}".encode()
    if qkey in _TILDE:
        number = _TILDE[qkey]
        return (f"{CSI}{number};{code}~" if code != 1 else f"{CSI}{number}~").encode()
    if qkey in _PF:
        final = _PF[qkey]
        return (f"{CSI}1;{code}{final}" if code != 1 else f"{SS3}{final}").encode()

    alt = bool(mods & Mod.AltModifier)
    ctrl = bool(mods & Mod.ControlModifier)
    prefix = ESC if alt else ""
    if qkey in (Key.Key_Return, Key.Key_Enter):
        return (prefix + "\r").encode()
    if qkey == Key.Key_Backspace:
        return (prefix + ("\x08" if ctrl else "\x7f")).encode()
    if qkey == Key.Key_Backtab or (qkey == Key.Key_Tab and mods & Mod.ShiftModifier):
        return f"{CSI}Z".encode()
    if qkey == Key.Key_Tab:
        return (prefix + "\t").encode()
    if qkey == Key.Key_Escape:
        return (prefix + ESC).encode()
    if ctrl:
        if Key.Key_A <= qkey <= Key.Key_Z:
            return (prefix + chr(int(qkey) - int(Key.Key_A) + 1)).encode()
        if qkey in _CTRL_PUNCT:
            return (prefix + _CTRL_PUNCT[qkey]).encode()
    if text and all(ch >= " " or ch == "\t" for ch in text):
        return (prefix + text).encode()
    if alt and Key.Key_A <= qkey <= Key.Key_Z:
        letter = chr(int(qkey) - int(Key.Key_A) + ord("a"))
        return (ESC + (letter.upper() if mods & Mod.ShiftModifier else letter)).encode()
    if text:
        return (prefix + text).encode()
    return None
