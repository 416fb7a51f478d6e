"""A volume's files (read-only browser, save out) and its transfers (back up, restore, clone).

Both go through :mod:`engine`'s volume helpers: a container created (never
started) from an image the engine has, mounting the volume, read and written
through the archive API, and removed on every way out.  The engine has no call
that lists a folder: one read of the volume's tar headers (file data skipped)
gives the whole tree with folder sizes, and the tree's rows are made only as
folders are opened (:class:`~app.models.file_tree.FileTreeModel`).

Every long operation shows its progress in its dialog and has Cancel; closing
the dialog cancels too.  When the engine goes away the operation ends (its
helper is removed by the engine code, or swept with
:func:`engine.remove_helpers` once the engine is back, when the browser reads
the volume again).  Nothing here opens a modal dialog from a task: file choosers
run from button slots, questions through :func:`app.widgets.ask.ask`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from functools import partial
from pathlib import Path
from typing import Any

from PySide6.QtCore import QModelIndex, Qt, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

import engine
from app.models.file_tree import FileTreeModel, PathInfo, index_paths
from app.presentation import counted, human_size
from app.session import EngineSession, MessageLevel
from app.widgets.transfer import Cancelled, ProgressBox, Stopper, free_path, request_cancel

#: ``progress(done, total)`` from the engine's calls.
Progress = Callable[[int, int | None], None]
#: A transfer: given the client and a progress callback, returns the line to show.
Transfer = Callable[[engine.Engine, Progress], Coroutine[Any, Any, str]]


async def _guarded(client: engine.Engine, transfer: Transfer, progress: Progress) -> str:
    """The transfer's own words, or a failure in one line (never a traceback)."""
    try:
        return await transfer(client, progress)
    except Cancelled:
        return "Cancelled."
    except engine.EngineError as exc:
        return f"Failed: {exc}"
    except OSError as exc:
        return f"Failed: {exc.strerror or exc}" + (f" ({exc.filename})" if exc.filename else "")


class VolumeTransferDialog(QDialog):
    """One back-up, restore or clone: its progress, Cancel, and how it ended."""

    #: The line it ended with ("Backed up …", "Failed: …", "Cancelled.").
    ended = Signal(str)

    def __init__(self, session: EngineSession, title: str, verb: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("volume-transfer-dialog")
        self.setWindowTitle(title)
        self.setAccessibleName(title)
        self.setMinimumWidth(420)
        self.session = session
        self.verb = verb
        self.task: asyncio.Task[Any] | None = None
        self.stopper = Stopper(lambda _done, _total: None)
        self.result_text = ""
        #: Bytes done so far, as the last progress report said.
        self.done_bytes = 0
        self.box = ProgressBox("volume-transfer", self)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setObjectName("volume-transfer-cancel")
        self.cancel_button.setAccessibleName("Cancel")
        self.cancel_button.clicked.connect(self.cancel_or_close)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"<b>{title}</b>", self))
        layout.addWidget(self.box)
        layout.addLayout(buttons)

    @property
    def running(self) -> bool:
        return self.task is not None and not self.task.done()

    def start(self, transfer: Transfer) -> None:
        self.box.show_progress(self.verb, 0, None)
        self.stopper = Stopper(self._progress)
        self.task = self.session.run(_guarded, transfer, self.stopper,
                                     describe=self.windowTitle().lower(),
                                     on_done=self._finish)
        if self.task is None:
            self._finish("Failed: not connected to an engine")

    def _progress(self, done: int, total: int | None) -> None:
        self.done_bytes = done
        self.box.show_progress(self.verb, done, total)

    def _finish(self, text: str) -> None:
        if self.result_text:
            return
        self.result_text = text
        self.box.done(text)
        self.cancel_button.setEnabled(True)
        self.cancel_button.setText("Close")
        self.ended.emit(text)
        _delete_if_closed(self)

    def cancel_or_close(self) -> None:
        if self.running:
            self.cancel()
        else:
            self.close()

    def cancel(self) -> None:
        """Stop at the next progress report (see :func:`request_cancel`)."""
        if request_cancel(self, self.task, self.stopper, self.box.status,
                          partial(self._finish, "Cancelled.")):
            self.cancel_button.setEnabled(False)

    def closeEvent(self, event: QCloseEvent) -> None:
        if _hide_while_stopping(self, event):
            return
        super().closeEvent(event)

    def reject(self) -> None:
        if not _hide_while_stopping(self, None):
            super().reject()


class VolumeFilesDialog(QDialog):
    """A volume's files, read-only: a tree with sizes; save a file or folder out."""

    #: The tree was read (or read again): the number of paths.
    loaded = Signal(int)
    #: An operation ended with this line (read, save, failure, cancel).
    ended = Signal(str)

    def __init__(self, session: EngineSession, volume: engine.Volume,
                 parent: QWidget | None = None, *, image: str | None = None,
                 labels: dict[str, str] | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("volume-files-dialog")
        title = f"Files of volume {volume.display_name}"
        self.setWindowTitle(title)
        self.setAccessibleName(title)
        self.resize(720, 520)
        self.session = session
        self.volume = volume
        #: The image and extra labels for helpers (tests use their own).
        self.image = image
        self.labels = labels
        self.task: asyncio.Task[Any] | None = None
        self.stopper = Stopper(lambda _done, _total: None)
        self.tree: engine.VolumeTree | None = None
        self.model = FileTreeModel(self)
        self.model.COLUMNS = ("Name", "Size", "Link to")
        self.view = QTreeView(self)
        self.view.setObjectName("volume-files-tree")
        self.view.setAccessibleName("Files")
        self.view.setModel(self.model)
        self.view.setUniformRowHeights(True)
        self.view.header().setStretchLastSection(False)
        self.view.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.view.setColumnWidth(1, 90)
        self.view.setColumnWidth(2, 160)
        self.view.selectionModel().currentChanged.connect(self._update_buttons)
        self.view.doubleClicked.connect(self._double_clicked)
        self.summary = QLabel(self)
        self.summary.setObjectName("volume-files-summary")
        self.box = ProgressBox("volume-files", self)
        self.save_button = self._button("Save…", "volume-files-save", self.save_selected)
        self.reload_button = self._button("Reload", "volume-files-reload", self.reload)
        self.cancel_button = self._button("Cancel", "volume-files-cancel", self.cancel)
        self.close_button = self._button("Close", "volume-files-close", self.close)
        buttons = QHBoxLayout()
        buttons.addWidget(self.save_button)
        buttons.addWidget(self.reload_button)
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.box)
        layout.addLayout(buttons)
        session.watch_connection(self, resume=self._engine_back, pause=self._engine_gone)
        self._update_buttons()

    def _button(self, text: str, name: str, slot: Callable[[], object]) -> QPushButton:
        button = QPushButton(text, self)
        button.setObjectName(name)
        button.setAccessibleName(text.rstrip("…"))
        button.clicked.connect(slot)
        return button

    # -- state ---------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self.task is not None and not self.task.done()

    def _update_buttons(self, *_args: object) -> None:
        self.cancel_button.setEnabled(self.running)
        self.reload_button.setEnabled(not self.running)
        self.save_button.setEnabled(not self.running and self.tree is not None)

    def _run(self, action: Callable[..., Coroutine[Any, Any, Any]], *args: Any,
             describe: str, on_done: Callable[[Any], object]) -> None:
        self.task = self.session.run(action, *args, describe=describe, on_done=on_done)
        if self.task is not None:
            self.task.add_done_callback(lambda _task: self._update_buttons())
        self._update_buttons()

    def _end(self, text: str) -> None:
        self.box.done(text)
        self._update_buttons()
        self.ended.emit(text)
        _delete_if_closed(self)

    # -- reading the tree -----------------------------------------------------------

    def reload(self) -> None:
        if self.running:
            return
        self.box.show_progress("Reading", 0, None)
        self.stopper = Stopper(partial(self.box.show_progress, "Reading"))
        self._run(_read_tree, self.volume.name, self.image, self.labels, self.stopper,
                  describe=f"read volume {self.volume.display_name}", on_done=self._show)

    def _show(self, outcome: engine.VolumeTree | str) -> None:
        if isinstance(outcome, str):
            self._end(outcome)
            return
        self.tree = outcome
        paths = [PathInfo(path, entry.size, entry.link_target, entry.is_dir)
                 for path, entry in outcome.entries.items() if path]
        self.model.set_index(index_paths(paths))
        self.view.expandToDepth(0)  # the top folders open; deeper rows are made on demand
        files = sum(1 for e in outcome.entries.values() if not e.is_dir)
        folders = sum(1 for p, e in outcome.entries.items() if e.is_dir and p)
        self.summary.setText(
            f"<b>{self.volume.display_name}</b>: {counted(files, 'file')},"
            f" {counted(folders, 'folder')}, {human_size(outcome.size)}"
            " — read-only")
        self._end("")
        self.loaded.emit(len(paths))

    def _double_clicked(self, index: QModelIndex) -> None:
        info = self.model.info(index)
        if info is not None and not info.is_dir:
            self.save_selected()

    # -- saving out ----------------------------------------------------------------

    def selected_path(self) -> PathInfo:
        """The selected file or folder; the whole volume when nothing is selected."""
        info = self.model.info(self.view.currentIndex())
        return info if info is not None else PathInfo("", self.tree.size if self.tree else 0,
                                                      is_dir=True)

    def save_selected(self) -> None:
        """Ask where (a file chooser, from this slot: not from a task), then save."""
        if self.running or self.tree is None:
            return
        info = self.selected_path()
        name = info.path.rpartition("/")[2] or self.volume.name
        if info.is_dir:
            folder = QFileDialog.getExistingDirectory(self, f"Save the folder {name} into")
            if not folder:
                return
            self.save_to(info.path, free_path(Path(folder) / name))
        else:
            path, _ = QFileDialog.getSaveFileName(self, f"Save {name}", name)
            if path:
                self.save_to(info.path, Path(path))

    def save_to(self, path: str, destination: Path) -> None:
        self.box.show_progress("Saving", 0, None)
        self.stopper = Stopper(partial(self.box.show_progress, "Saving"))
        self._run(_export, self.volume.name, path, destination, self.image, self.labels,
                  self.stopper,
                  describe=f"save /{path} of volume {self.volume.display_name}",
                  on_done=self._end)

    # -- cancel, close, engine gone ---------------------------------------------------

    def cancel(self) -> None:
        """Stop at the next progress report (see :func:`request_cancel`)."""
        request_cancel(self, self.task, self.stopper, self.box.status,
                       partial(self._end, "Cancelled."))

    def _engine_gone(self) -> None:
        self.stopper.requested = True  # its calls fail by themselves; no new report shown
        self._end("The engine went away; the files are read again when it is back.")

    def _engine_back(self) -> None:
        self.session.run(engine.remove_helpers, describe="remove leftover volume helpers")
        self.reload()

    def closeEvent(self, event: QCloseEvent) -> None:
        if _hide_while_stopping(self, event):
            return
        super().closeEvent(event)

    def reject(self) -> None:
        if not _hide_while_stopping(self, None):
            super().reject()


def _hide_while_stopping(dialog: VolumeFilesDialog | VolumeTransferDialog,
                        event: QCloseEvent | None) -> bool:
    """Closing while an operation runs: stop it, hide now, and go once it has ended
    (its last report still finds the widgets; its helper is removed first)."""
    if not dialog.running:
        return False
    dialog.cancel()
    dialog.hide()
    if event is not None:
        event.ignore()
    return True


def _delete_if_closed(dialog: QDialog) -> None:
    if dialog.isHidden() and dialog.testAttribute(Qt.WidgetAttribute.WA_DeleteOnClose):
        dialog.deleteLater()


async def _read_tree(client: engine.Engine, volume: str, image: str | None,
                     labels: dict[str, str] | None, progress: Progress
                     ) -> engine.VolumeTree | str:
    try:
        async with engine.volume_helper(client, volume, image=image, labels=labels) as helper:
            return await helper.tree("", progress)
    except Cancelled:
        return "Cancelled."
    except engine.EngineError as exc:
        return f"Could not read the volume: {exc}"


async def _export(client: engine.Engine, volume: str, path: str, destination: Path,
                  image: str | None, labels: dict[str, str] | None, progress: Progress) -> str:
    try:
        await engine.export_path(client, volume, path, destination, progress=progress,
                                 image=image, labels=labels)
    except Cancelled:
        return "Cancelled."
    except engine.EngineError as exc:
        return f"Could not save /{path}: {exc}"
    except OSError as exc:
        return f"Could not save /{path}: {exc.strerror or exc}"
    return f"Saved /{path} to {destination}"


def open_transfer(session: EngineSession, parent: QWidget, title: str, verb: str,
                  transfer: Transfer, on_ended: Callable[[str], object] | None = None
                  ) -> VolumeTransferDialog:
    """Open a transfer's dialog (non-modal) and start it."""
    dialog = VolumeTransferDialog(session, title, verb, parent)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    if on_ended is not None:
        dialog.ended.connect(on_ended)
    dialog.open()
    dialog.start(transfer)
    return dialog


def message_level(text: str) -> MessageLevel:
    return MessageLevel.ERROR if text.startswith("Failed") else MessageLevel.INFO
