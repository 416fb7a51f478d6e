"""Settings with their defaults in one place, stored with QSettings.

Every setting is declared once as a :class:`Setting` (key, default); readers get
the default's type back whatever the storage format returns (INI files give
strings).  Window geometry and layouts are state, saved beside the settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from PySide6.QtCore import QByteArray, QObject, QSettings, Signal

T = TypeVar("T", str, int, bool)


@dataclass(frozen=True)
class Setting(Generic[T]):
    key: str
    default: T
    label: str


THEME = Setting("appearance/theme", "system", "Theme")
LOG_LINE_CAP = Setting("logs/line_cap", 100_000, "Log lines kept per container")
CONFIRM_REMOVE = Setting("behaviour/confirm_remove", True, "Confirm before removing")
NOTIFY_FAILURES = Setting("behaviour/notify_container_failures", True,
                          "Notify when a container fails or turns unhealthy")

THEMES = ("system", "light", "dark")


class Settings(QObject):
    changed = Signal(str)  # the key

    def __init__(self, store: QSettings | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.store = store if store is not None else QSettings()

    def get(self, setting: Setting[T]) -> T:
        raw: Any = self.store.value(setting.key, setting.default)
        default = setting.default
        if isinstance(default, bool):
            value: Any = raw if isinstance(raw, bool) else str(raw).lower() in ("true", "1")
        elif isinstance(default, int):
            try:
                value = int(raw)
            except (TypeError, ValueError):
                value = default
        else:
            value = str(raw)
        return value  # type: ignore[no-any-return]

    def set(self, setting: Setting[T], value: T) -> None:
        if self.get(setting) == value:
            return
        self.store.setValue(setting.key, value)
        self.changed.emit(setting.key)

    # -- window state ---------------------------------------------------------------

    def state(self, key: str) -> QByteArray | None:
        value = self.store.value(f"state/{key}")
        return value if isinstance(value, QByteArray) else None

    def set_state(self, key: str, value: QByteArray) -> None:
        self.store.setValue(f"state/{key}", value)

    def number(self, key: str, default: int) -> int:
        raw: Any = self.store.value(f"state/{key}", default)
        try:
            return int(raw)
        except (TypeError, ValueError):
            return default

    def set_number(self, key: str, value: int) -> None:
        self.store.setValue(f"state/{key}", value)

    def sync(self) -> None:
        self.store.sync()
