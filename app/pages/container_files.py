"""The Files tab of a container: browse, what changed, open, save out, copy in.

Everything goes through the archive API (:mod:`engine`'s container files), so
a stopped container is browsed like a running one and nothing runs inside it.
A folder is read when it is first opened (its whole subtree, in one request;
rows come in slices: :class:`~app.models.container_files.ContainerFilesModel`).
Every read and transfer stops at its next step on Cancel (see
:class:`~app.widgets.transfer.Cancelled`), and when another container is
selected.  Questions are non-modal (:func:`app.widgets.ask.ask`); file choosers
open from button slots, never from a task.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Callable, Coroutine
from functools import partial
from pathlib import Path
from typing import Any, cast

from PySide6.QtCore import QMimeData, QModelIndex, QPoint, Qt, QUrl, Signal
from PySide6.QtGui import QDrag, QDragEnterEvent, QDragMoveEvent, QDropEvent, QFontDatabase
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

import engine
from app.models.container_files import ContainerFilesModel
from app.presentation import counted, human_size
from app.session import EngineSession
from app.widgets.ask import ask
from app.widgets.transfer import Cancelled, ProgressBox, Stopper, free_path, request_cancel

#: Bytes of a file the viewer reads at most.
VIEW_LIMIT = 1 << 20
#: What a drag to the desktop may carry (it is saved while the drag runs).
DRAG_LIMIT = 64 << 20


class FilesView(QTreeView):
    """The tree: drags a file or folder out (saved to a temporary folder first) and takes
    local files dropped onto a folder."""

    #: Local paths dropped onto the container folder (path, files).
    dropped = Signal(str, list)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAcceptDrops(True)
        self.setDragEnabled(True)
        self.setDropIndicatorShown(True)
        #: Called at drag start with the entry; returns the local path it will be at.
        self.prepare_drag: Callable[[engine.ContainerFile], Path | None] | None = None

    def folder_at(self, pos: QPoint) -> str:
        """The container folder a drop at ``pos`` goes into: the folder under it, the
        folder of a file under it, or the root."""
        model = self.model()
        index = self.indexAt(pos)
        if not isinstance(model, ContainerFilesModel) or not index.isValid():
            return "/"
        entry = model.entry(index)
        if entry is None:
            return "/"
        return entry.path if entry.is_dir else entry.parent

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls() and event.source() is not self:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if event.mimeData().hasUrls() and event.source() is not self:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if not paths or event.source() is self:
            event.ignore()
            return
        event.acceptProposedAction()
        self.dropped.emit(self.folder_at(event.position().toPoint()), paths)

    def startDrag(self, supportedActions: Qt.DropAction) -> None:
        model = self.model()
        if not isinstance(model, ContainerFilesModel) or self.prepare_drag is None:
            return
        entry = model.entry(self.currentIndex())
        if entry is None:
            return
        local = self.prepare_drag(entry)
        if local is None:
            return
        data = QMimeData()
        data.setUrls([QUrl.fromLocalFile(str(local))])
        drag = QDrag(self)
        drag.setMimeData(data)
        drag.exec(Qt.DropAction.CopyAction)


class FileViewer(QDialog):
    """One file, read-only: text in its detected encoding, or a hex dump of a binary."""

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("file-viewer")
        self.setWindowTitle(title)
        self.setAccessibleName(title)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.resize(760, 560)
        self.info = QLabel("Reading…", self)
        self.info.setObjectName("file-viewer-info")
        self.text = QPlainTextEdit(self)
        self.text.setObjectName("file-viewer-text")
        self.text.setAccessibleName("File contents")
        self.text.setReadOnly(True)
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        close = QPushButton("Close", self)
        close.clicked.connect(self.close)
        row = QHBoxLayout()
        row.addWidget(self.info, 1)
        row.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text, 1)
        layout.addLayout(row)

    def show_content(self, outcome: tuple[bytes, int] | str) -> None:
        if isinstance(outcome, str):
            self.info.setText(outcome)
            return
        data, size = outcome
        truncated = len(data) < size
        decoded = engine.decode_text(data, truncated)
        shown = f" — the first {human_size(len(data))} shown" if truncated else ""
        if decoded.binary:
            head = data[:64 << 10]
            self.text.setPlainText(engine.hex_dump(head))
            self.info.setText(f"Binary file, {human_size(size)} — the first"
                              f" {human_size(len(head))} shown as hex, read-only")
        else:
            self.text.setPlainText(decoded.text or "")
            self.info.setText(f"{decoded.encoding} text, {human_size(size)}{shown}, read-only")


class ContainerFilesTab(QWidget):
    """A container's files (see the module docstring)."""

    #: An operation ended with this line (a read, a save, a copy, a failure, a cancel).
    ended = Signal(str)
    #: The changes were read: how many.
    changes_loaded = Signal(int)

    def __init__(self, session: EngineSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("container-files")
        self.setAccessibleName("Container files")
        self.session = session
        self.container: engine.Container | None = None
        self.model = ContainerFilesModel(self)
        self.model.wanted.connect(self.read_folder)
        self.view = FilesView(self)
        self.view.setObjectName("container-files-tree")
        self.view.setAccessibleName("Files")
        self.view.setModel(self.model)
        self.view.setUniformRowHeights(True)
        self.view.setSortingEnabled(True)
        self.view.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        header = self.view.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column, width in ((1, 80), (2, 90), (3, 60), (4, 118), (5, 140), (6, 70)):
            self.view.setColumnWidth(column, width)
        self.view.doubleClicked.connect(self._double_clicked)
        self.view.dropped.connect(self.confirm_copy_in)
        self.view.prepare_drag = self._prepare_drag
        self.view.selectionModel().currentChanged.connect(self._update_buttons)
        self.search = QLineEdit(self)
        self.search.setObjectName("container-files-search")
        self.search.setAccessibleName("Find by name in what is loaded")
        self.search.setPlaceholderText("Find by name (loaded folders)")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self._search)
        self.changes_only = QCheckBox("Changes only", self)
        self.changes_only.setObjectName("container-files-changes")
        self.changes_only.setAccessibleName("Show only what the container changed")
        self.changes_only.toggled.connect(self._toggle_changes)
        self.open_button = self._button("Open", "container-files-open", self.open_selected)
        self.save_button = self._button("Save…", "container-files-save", self.save_selected)
        self.copy_button = self._button("Copy in…", "container-files-copy-in",
                                        self.choose_copy_in)
        self.reload_button = self._button("Reload", "container-files-reload", self.reload)
        self.cancel_button = self._button("Cancel", "container-files-cancel", self.cancel)
        self.summary = QLabel(self)
        self.summary.setObjectName("container-files-summary")
        self.box = ProgressBox("container-files", self)
        top = QHBoxLayout()
        top.addWidget(self.search, 1)
        top.addWidget(self.changes_only)
        top.addWidget(self.reload_button)
        bottom = QHBoxLayout()
        bottom.addWidget(self.summary, 1)
        for button in (self.open_button, self.save_button, self.copy_button,
                       self.cancel_button):
            bottom.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.box)
        layout.addLayout(bottom)
        #: Running reads by folder, each with its stopper; one transfer at a time.
        self.reads: dict[str, Stopper] = {}
        self.transfer: asyncio.Task[Any] | None = None
        self.stopper = Stopper(lambda _d, _t: None)
        self.changes: list[engine.ContainerChange] = []
        self._generation = 0
        self._drag_dir: tempfile.TemporaryDirectory[str] | None = None
        #: A save's chooser is open (see :meth:`save_selected`).
        self._choosing = False
        self._update_buttons()

    def _button(self, text: str, name: str, slot: Callable[[], object]) -> QPushButton:
        button = QPushButton(text, self)
        button.setObjectName(name)
        button.setAccessibleName(text.rstrip("…"))
        button.clicked.connect(slot)
        return button

    # -- state -------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        return bool(self.reads) or self.transferring

    @property
    def transferring(self) -> bool:
        """Whether a save, drag-out or copy-in runs (one at a time)."""
        return self.transfer is not None and not self.transfer.done()

    def _update_buttons(self, *_args: object) -> None:
        entry = self.selected()
        has = self.container is not None
        transferring = self.transferring
        self.cancel_button.setEnabled(self.busy)
        self.open_button.setEnabled(entry is not None and not entry.is_dir
                                    and not self._removed(entry))
        self.save_button.setEnabled(has and not transferring and
                                    (entry is None or not self._removed(entry)))
        self.copy_button.setEnabled(has and not transferring)
        self.reload_button.setEnabled(has)

    def _removed(self, entry: engine.ContainerFile) -> bool:
        return self.model.marks.get(entry.path) is engine.ChangeKind.REMOVED

    def selected(self) -> engine.ContainerFile | None:
        return self.model.entry(self.view.currentIndex())

    def show_container(self, container: engine.Container | None) -> None:
        """Show ``container``'s files (read when the tab is first shown for it)."""
        if container is not None and self.container is not None \
                and container.id == self.container.id:
            self.container = container
            return
        self.container = container
        self._stop_all()
        self._generation += 1
        self.changes = []
        self.model.clear()
        self.search.clear()
        self.changes_only.setChecked(False)
        self.summary.setText("")
        self.box.done("")
        self._update_buttons()
        if container is not None and self.isVisible():
            self.reload()

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        if self.container is not None and not self.model.known and not self.reads:
            self.reload()

    def _end(self, text: str) -> None:
        self.box.done(text)
        self._update_buttons()
        self.ended.emit(text)

    # -- reading -------------------------------------------------------------------------

    def reload(self) -> None:
        """Read the root folder (everything) and the changes again."""
        if self.container is None:
            return
        self._stop_all()
        self._generation += 1
        self.model.clear()
        self.search.clear()
        if self.changes_only.isChecked():
            self.changes_only.setChecked(False)
        self.read_folder("/")
        self._read_changes()

    def read_folder(self, path: str) -> None:
        """Read ``path``'s subtree unless a running read covers it already."""
        container = self.container
        if container is None or self.model.is_complete(path):
            return
        if any(path == r or path.startswith(r.rstrip("/") + "/") for r in self.reads):
            return
        stopper = Stopper(partial(self._reading, path))
        self.reads[path] = stopper
        generation = self._generation
        self.session.run(_list, container.id, path, self.model, stopper,
                         describe=f"read {path} of {container.name}",
                         on_done=partial(self._read_done, path, generation))
        self.box.show_progress(f"Reading {path}:", 0, None)
        self._update_buttons()

    def _reading(self, path: str, done: int, _total: int | None) -> None:
        count = sum(len(v) for v in self.model.known.values())
        entries = counted(count, "entry", "entries")
        self.box.show_progress(f"Reading {path}: {entries},", done, None)

    def _read_done(self, path: str, generation: int, outcome: str) -> None:
        if generation != self._generation:
            return
        self.reads.pop(path, None)
        if not self.reads:
            self.model.resort()  # a stopped read's entries too
        self._summarise()
        self._end(outcome)

    def _summarise(self) -> None:
        container = self.container
        if container is None:
            return
        entries = sum(len(v) for v in self.model.known.values())
        total = self.model.sizes.get("/")
        state = "running" if container.running else container.state or "stopped"
        size = f", {human_size(total)}" if total is not None else ""
        changes = f", {counted(len(self.changes), 'change')}" if self.changes else ""
        read = counted(entries, "entry", "entries")
        self.summary.setText(f"{read} read{size}{changes} — {state}")

    def _read_changes(self) -> None:
        container = self.container
        if container is None:
            return
        generation = self._generation
        self.session.run(engine.container_changes, container.id, key="container-changes",
                         quiet_not_found=True, describe=f"read the changes of {container.name}",
                         on_done=partial(self._got_changes, generation))

    def _got_changes(self, generation: int, changes: list[engine.ContainerChange]) -> None:
        if generation != self._generation:
            return
        self.changes = changes
        if self.changes_only.isChecked():
            self._show_changes()
        else:
            self.model.set_marks(changes)
        self._summarise()
        self.changes_loaded.emit(len(changes))

    def _show_changes(self) -> None:
        shown = self.model.show_changes(self.changes)
        self.view.expandAll()
        if shown < len(self.changes):
            self.box.done(f"The first {shown:,} of {len(self.changes):,} changes shown")

    def _toggle_changes(self, on: bool) -> None:
        if on:
            self.search.blockSignals(True)
            self.search.clear()
            self.search.blockSignals(False)
            self._show_changes()
            self._read_changes()
        else:
            self.model.browse()
            self.model.set_marks(self.changes)

    def _search(self, text: str) -> None:
        text = text.strip()
        if self.changes_only.isChecked():
            self.changes_only.blockSignals(True)
            self.changes_only.setChecked(False)
            self.changes_only.blockSignals(False)
        if not text:
            self.model.browse()
            self.box.done("")
            return
        found, capped = self.model.search(text)
        if found <= 500:
            self.view.expandAll()
        more = f" (the first {found})" if capped else ""
        matches = counted(found, "match", "matches")
        self.box.done(f"{matches}{more} among the folders read so far")

    def _stop_all(self) -> None:
        """Stop every read and the transfer at their next step (a transfer that does
        not: after a while, as the volume dialogs do, see :func:`request_cancel`)."""
        for stopper in self.reads.values():
            stopper.requested = True
        self.reads.clear()
        request_cancel(self, self.transfer, self.stopper, self.box.status,
                       partial(self._end, "Cancelled."))

    def cancel(self) -> None:
        if self.busy:
            self._stop_all()
            self.box.status.setText("Cancelling…")
            self._update_buttons()

    # -- open, save, drag --------------------------------------------------------------

    def _double_clicked(self, index: QModelIndex) -> None:
        if self.model.is_more(index):
            self.model.show_more(index)
            return
        entry = self.model.entry(index)
        if entry is not None and not entry.is_dir and not self._removed(entry):
            self.open_selected()

    def open_selected(self) -> FileViewer | None:
        entry = self.selected()
        container = self.container
        if entry is None or entry.is_dir or container is None:
            return None
        viewer = FileViewer(f"{entry.path} in {container.name}", self)
        viewer.open()
        self.session.run(_read_head, container.id, entry.path,
                         describe=f"read {entry.path} of {container.name}",
                         on_done=viewer.show_content)
        return viewer

    def save_selected(self) -> None:
        """Ask where (a chooser, from this slot), then save as ``docker cp`` would.

        Not while a transfer runs (it says so, and asks nothing), nor again while its
        chooser is open: the chooser runs a nested event loop, where a second click
        (a double-click on Save…) would open a second chooser and start a second save.
        """
        container = self.container
        if container is None or self._choosing:
            return
        if self.transferring:
            self._end("Another copy is running: wait for it or cancel it")
            return
        entry = self.selected()
        path = entry.path if entry is not None else "/"
        name = path.rpartition("/")[2] or container.name
        self._choosing = True
        self.save_button.setEnabled(False)
        try:
            if entry is None or entry.is_dir:
                folder = QFileDialog.getExistingDirectory(self, f"Save the folder {name} into")
                destination = free_path(Path(folder) / name) if folder else None
            else:
                chosen, _ = QFileDialog.getSaveFileName(self, f"Save {name}", name)
                destination = Path(chosen) if chosen else None
        finally:
            self._choosing = False
            self._update_buttons()
        if destination is not None and self.container is container:
            self.save_to(path, destination)

    def save_to(self, path: str, destination: Path) -> None:
        container = self.container
        if container is None:
            return
        self._start_transfer("Saving", _save, container.id, path, destination,
                             describe=f"save {path} of {container.name}")

    def _prepare_drag(self, entry: engine.ContainerFile) -> Path | None:
        """Start saving ``entry`` into a temporary folder; the drag carries that path
        (a file manager copies it on drop, by which time it is written)."""
        container = self.container
        size = self.model.sizes.get(entry.path, entry.size) if entry.is_dir else entry.size
        if container is None or self._removed(entry):
            return None
        if self.transferring:
            # The save could not start: a drag must not carry a path never written.
            self._end("Another copy is running: wait for it or cancel it")
            return None
        if size > DRAG_LIMIT:
            self._end(f"{entry.name} is {human_size(size)}: use Save… for more than"
                      f" {human_size(DRAG_LIMIT)}")
            return None
        if self._drag_dir is None:
            self._drag_dir = tempfile.TemporaryDirectory(prefix="dockyard-drag-")
        local = free_path(Path(self._drag_dir.name) / entry.name)
        self.save_to(entry.path, local)
        return local

    # -- copy in ---------------------------------------------------------------------------

    def choose_copy_in(self) -> None:
        entry = self.selected()
        folder = "/" if entry is None else entry.path if entry.is_dir else entry.parent
        files, _ = QFileDialog.getOpenFileNames(self, f"Copy files into {folder}")
        if files:
            self.confirm_copy_in(folder, files)

    def confirm_copy_in(self, folder: str, paths: list[str]) -> None:
        """Ask (non-modal) before writing into the container; the question names where."""
        container = self.container
        if container is None or not paths:
            return
        what = Path(paths[0]).name if len(paths) == 1 else counted(len(paths), "item")
        ask(self, "Copy into the container",
            f"Copy {what} into {folder} of {container.name}?\n"
            "Files of the same names there are replaced.",
            "Copy In", partial(self.copy_in, folder, [Path(p) for p in paths]),
            name="copy-in-question")

    def copy_in(self, folder: str, paths: list[Path]) -> None:
        container = self.container
        if container is None:
            return
        self._start_transfer("Copying", _copy_in, container.id, folder, paths,
                             describe=f"copy into {folder} of {container.name}",
                             after=self._copied)

    def _copied(self, text: str) -> None:
        if text.startswith("Copied"):
            self.reload()
            self.box.done(text)

    def _start_transfer(self, verb: str, action: Callable[..., Coroutine[Any, Any, str]],
                        *args: Any, describe: str,
                        after: Callable[[str], object] | None = None) -> None:
        if self.transferring:
            self._end("Another copy is running: wait for it or cancel it")
            return
        self.stopper = Stopper(partial(self.box.show_progress, verb))
        self.box.show_progress(verb, 0, None)

        def done(text: str) -> None:
            self._end(text)
            if after is not None:
                after(text)

        self.transfer = self.session.run(cast(Any, action), *args, self.stopper, describe=describe,
                                         on_done=done)
        self._update_buttons()


async def _list(client: engine.Engine, container_id: str, path: str,
                model: ContainerFilesModel, stopper: Stopper) -> str:
    """Read ``path``'s subtree into the model, batch by batch."""
    try:
        async for batch in engine.list_tree(client, container_id, path):
            stopper(batch.read, None)  # raises Cancelled once asked
            if batch.sizes is not None:
                model.finish_read(path, batch.sizes)
            elif batch.entries:
                model.add_entries(batch.entries)
    except Cancelled:
        return "Cancelled."
    except engine.EngineError as exc:
        return f"Could not read {path}: {exc}"
    return ""


async def _read_head(client: engine.Engine, container_id: str, path: str
                     ) -> tuple[bytes, int] | str:
    try:
        return await engine.read_file_head(client, container_id, path, VIEW_LIMIT)
    except engine.EngineError as exc:
        return f"Could not read {path}: {exc}"


async def _save(client: engine.Engine, container_id: str, path: str, destination: Path,
                progress: Stopper) -> str:
    try:
        await engine.save_container_path(client, container_id, path, destination,
                                         progress=progress)
    except Cancelled:
        return "Cancelled."
    except engine.EngineError as exc:
        return f"Could not save {path}: {exc}"
    except OSError as exc:
        return f"Could not save {path}: {exc.strerror or exc}"
    return f"Saved {path} to {destination}"


async def _copy_in(client: engine.Engine, container_id: str, folder: str, paths: list[Path],
                   progress: Stopper) -> str:
    try:
        sent = await engine.copy_into(client, container_id, folder, paths, progress=progress)
    except Cancelled:
        return "Cancelled."
    except engine.EngineError as exc:
        return f"The engine refused the copy into {folder}: {exc}"
    except OSError as exc:
        return f"Could not copy into {folder}: {exc.strerror or exc}" + (
            f" ({exc.filename})" if exc.filename else "")
    return f"Copied {human_size(sent)} into {folder}"
