"""How serious a message for the message bar is (below the session and the widgets, so
both can name it)."""

from __future__ import annotations

import enum


class MessageLevel(enum.Enum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
