"""The Settings dialog: every user setting, with its default from app.settings."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QSpinBox,
    QWidget,
)

from app.settings import CONFIRM_REMOVE, LOG_LINE_CAP, NOTIFY_FAILURES, THEME, THEMES, Settings


class SettingsDialog(QDialog):
    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("settings-dialog")
        self.setWindowTitle("Settings")
        self.settings = settings
        self.theme = QComboBox(self)
        self.theme.setObjectName("settings-theme")
        self.theme.setAccessibleName(THEME.label)
        for name in THEMES:
            self.theme.addItem(name.capitalize() if name != "system" else "Follow the desktop",
                               name)
        self.theme.setCurrentIndex(THEMES.index(settings.get(THEME)))
        self.log_cap = QSpinBox(self)
        self.log_cap.setObjectName("settings-log-cap")
        self.log_cap.setAccessibleName(LOG_LINE_CAP.label)
        self.log_cap.setRange(1_000, 10_000_000)
        self.log_cap.setSingleStep(10_000)
        self.log_cap.setGroupSeparatorShown(True)
        self.log_cap.setValue(settings.get(LOG_LINE_CAP))
        self.confirm = QCheckBox(self)
        self.confirm.setObjectName("settings-confirm-remove")
        self.confirm.setAccessibleName(CONFIRM_REMOVE.label)
        self.confirm.setChecked(settings.get(CONFIRM_REMOVE))
        self.notify_failures = QCheckBox(self)
        self.notify_failures.setObjectName("settings-notify-failures")
        self.notify_failures.setAccessibleName(NOTIFY_FAILURES.label)
        self.notify_failures.setChecked(settings.get(NOTIFY_FAILURES))
        # The button says what it does (issue 12.14): Save, not OK.
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel, self)
        self.save_button = buttons.addButton("Save", QDialogButtonBox.ButtonRole.AcceptRole)
        self.save_button.setObjectName("settings-save")
        self.save_button.setDefault(True)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow(THEME.label, self.theme)
        form.addRow(LOG_LINE_CAP.label, self.log_cap)
        form.addRow(CONFIRM_REMOVE.label, self.confirm)
        form.addRow(NOTIFY_FAILURES.label, self.notify_failures)
        form.addRow(buttons)
        self.accepted.connect(self.save)

    def save(self) -> None:
        self.settings.set(THEME, str(self.theme.currentData()))
        self.settings.set(LOG_LINE_CAP, self.log_cap.value())
        self.settings.set(CONFIRM_REMOVE, self.confirm.isChecked())
        self.settings.set(NOTIFY_FAILURES, self.notify_failures.isChecked())
