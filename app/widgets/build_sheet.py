"""The build sheet: what will be built, from what, and exactly what will be sent.

The context inspector walks the folder with the docker CLI's .dockerignore rules
(engine.walk_context) in a worker thread, so a large context never freezes the
window, and shows the total, the largest files and folders, and warnings.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

import engine
from app.models.table import Column, KeyedTableModel
from app.presentation import counted, human_size
from app.settings import Settings
from app.theme import ERROR_TEXT, WARNING_TEXT, text_style

TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")

LARGEST_COLUMNS = (
    Column("Path", lambda e: e[0]),
    Column("Size", lambda e: human_size(e[1]), sort_key=lambda e: e[1], align_right=True),
)


def is_tar(path: Path) -> bool:
    return path.is_file() and path.name.lower().endswith(TAR_SUFFIXES)


#: The folder of the last Dockerfile or tar chosen with Build…, to start there next time.
LAST_BUILD_FOLDER = "state/last_build_folder"
BUILD_SOURCES = ("Dockerfiles and build archives (Dockerfile Dockerfile.* *.Dockerfile "
                 "*.dockerfile Containerfile Containerfile.* "
                 + " ".join(f"*{suffix}" for suffix in TAR_SUFFIXES) + ");;All files (*)")


def choose_build_source(parent: QWidget, settings: Settings) -> Path | None:
    """Ask for a Dockerfile (its folder is the context) or a tar to build from.

    Starts in the folder of the last one chosen, else the home folder (never the
    directory the program happened to be started in).  A folder is chosen through
    its Dockerfile: a file dialog cannot offer files and folders at once, and a
    folder without one cannot be built.  Call from a slot, never inside a task.
    """
    last = str(settings.store.value(LAST_BUILD_FOLDER, "") or "")
    start = last if last and Path(last).is_dir() else str(Path.home())
    path, _filter = QFileDialog.getOpenFileName(
        parent, "Build an image: choose a Dockerfile (its folder is the context) or a tar",
        start, BUILD_SOURCES)
    if not path:
        return None
    settings.store.setValue(LAST_BUILD_FOLDER, str(Path(path).parent))
    return Path(path)


def context_for(path: Path) -> tuple[Path, Path | None]:
    """A dropped path as (context folder, Dockerfile): a folder builds its Dockerfile,
    a file is the Dockerfile of the folder it sits in."""
    if path.is_dir():
        return path, path / "Dockerfile"
    return path.parent, path



@dataclass(frozen=True)
class BuildRequest:
    """What the build sheet asks for: a walked context (or a tar file) and the options."""

    listing: engine.ContextListing | None
    tar: Path | None = None
    tags: tuple[str, ...] = ()
    buildargs: Mapping[str, str] = field(default_factory=dict)
    target: str | None = None
    nocache: bool = False
    pull: bool = False
    buildkit: bool | None = None

    @property
    def title(self) -> str:
        source = self.tar or (self.listing.root if self.listing else "")
        return f"Build {', '.join(self.tags) or source}"


class BuildSheet(QDialog):
    def __init__(self, source: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("build-sheet")
        self.setWindowTitle("Build an image")
        self.listing: engine.ContextListing | None = None
        self.info: engine.DockerfileInfo | None = None
        self.tar = source if is_tar(source) else None
        self._walk: asyncio.Future[engine.ContextListing] | None = None

        self.context = self._line("build-context", "Context folder")
        self.dockerfile = self._line("build-dockerfile", "Dockerfile")
        self.tags = self._line("build-tags", "Tags")
        self.tags.setPlaceholderText("name:tag, another:tag")
        self.buildargs = QPlainTextEdit(self)
        self.buildargs.setObjectName("build-args")
        self.buildargs.setAccessibleName("Build arguments")
        self.buildargs.setPlaceholderText("NAME=value, one per line")
        self.buildargs.setMaximumHeight(80)
        self.target = QComboBox(self)
        self.target.setObjectName("build-target")
        self.target.setAccessibleName("Target stage")
        self.nocache = QCheckBox("Do not use the cache", self)
        self.nocache.setObjectName("build-nocache")
        self.pull = QCheckBox("Always pull base images", self)
        self.pull.setObjectName("build-pull")
        self.buildkit = QCheckBox("Use BuildKit", self)
        self.buildkit.setObjectName("build-buildkit")

        self.summary = QLabel(self)
        self.summary.setObjectName("build-context-summary")
        self.summary.setWordWrap(True)
        self.warnings = QLabel(self)
        self.warnings.setObjectName("build-context-warnings")
        self.warnings.setWordWrap(True)
        self.warnings.setStyleSheet(text_style(WARNING_TEXT, self.warnings))
        self.largest = KeyedTableModel(LARGEST_COLUMNS, key=lambda e: e[0], parent=self)
        self.largest_view = QTableView(self)
        self.largest_view.setObjectName("build-context-largest")
        self.largest_view.setAccessibleName("Largest files and folders sent")
        self.largest_view.setModel(self.largest)
        self.largest_view.verticalHeader().hide()
        self.largest_view.horizontalHeader().setSectionResizeMode(
            0, QHeaderView.ResizeMode.Stretch)

        browse_context = QPushButton("Choose…", self)
        browse_context.clicked.connect(self._choose_context)
        browse_file = QPushButton("Choose…", self)
        browse_file.clicked.connect(self._choose_dockerfile)
        form = QFormLayout()
        form.addRow("Context folder", _row(self.context, browse_context))
        form.addRow("Dockerfile", _row(self.dockerfile, browse_file))
        form.addRow("Tags", self.tags)
        form.addRow("Build arguments", self.buildargs)
        form.addRow("Target stage", self.target)
        form.addRow("", self.nocache)
        form.addRow("", self.pull)
        form.addRow("", self.buildkit)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel, self)
        self.build_button = self.buttons.addButton("Build", QDialogButtonBox.ButtonRole.AcceptRole)
        self.build_button.setObjectName("build-start")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(QLabel("<b>What will be sent</b>", self))
        layout.addWidget(self.summary)
        layout.addWidget(self.warnings)
        layout.addWidget(self.largest_view, 1)
        layout.addWidget(self.buttons)
        self.resize(720, 640)

        self._rewalk = QTimer(self)
        self._rewalk.setSingleShot(True)
        self._rewalk.setInterval(300)
        self._rewalk.timeout.connect(self.inspect)
        if self.tar is not None:
            self.context.setText(str(self.tar))
            self.context.setEnabled(False)
            self.dockerfile.setText("Dockerfile (inside the archive)")
            self.dockerfile.setEnabled(False)
            self.summary.setText(f"The archive {self.tar.name} is sent as it is "
                                 f"({human_size(self.tar.stat().st_size)}).")
            self.largest_view.hide()
        else:
            folder, dockerfile = context_for(source)
            self.context.setText(str(folder))
            self.dockerfile.setText(str(dockerfile) if dockerfile else "")
            self.tags.setText(f"{_default_tag(folder)}:latest")
            self.context.textChanged.connect(self._rewalk.start)
            self.dockerfile.textChanged.connect(self._rewalk.start)
            self.inspect()

    def _line(self, name: str, accessible: str) -> QLineEdit:
        field = QLineEdit(self)
        field.setObjectName(name)
        field.setAccessibleName(accessible)
        return field

    def _choose_context(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Context folder", self.context.text())
        if folder:
            self.context.setText(folder)

    def _choose_dockerfile(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Dockerfile", self.context.text())
        if path:
            self.dockerfile.setText(path)

    # -- the context inspector ------------------------------------------------------

    def inspect(self) -> None:
        """Walk the context in a worker thread; the result fills the inspector."""
        if self._walk is not None:
            self._walk.cancel()
        self.build_button.setEnabled(False)
        self.summary.setText("Looking at the context…")
        root = Path(self.context.text())
        dockerfile = self.dockerfile.text() or "Dockerfile"
        self._walk = asyncio.ensure_future(asyncio.to_thread(engine.walk_context, root, dockerfile))
        self._walk.add_done_callback(self._walked)

    def _walked(self, future: asyncio.Future[engine.ContextListing]) -> None:
        if future.cancelled() or future is not self._walk:
            return
        try:
            listing = future.result()
        except engine.EngineError as exc:
            self.listing = None
            # The daemon's words are text, not markup.
            self.summary.setText(f"<span style='color:{ERROR_TEXT.on(self.palette())}'>"
                                 f"{html.escape(str(exc))}</span>")
            self.warnings.setText("")
            self.largest.set_items([])
            return
        self.listing = listing
        text = listing.dockerfile_text()
        self.info = engine.parse_dockerfile(text) if text is not None else None
        problems = list(listing.warnings)
        if text is None:
            problems.insert(0, f"No Dockerfile at {self.dockerfile.text()}.")
        count = len(listing.patterns)
        self.summary.setText(
            f"{counted(listing.file_count, 'file')}, {human_size(listing.total_size)} sent "
            f"({counted(count, '.dockerignore pattern')} applied)")
        self.warnings.setText("\n".join(f"⚠ {p}" for p in problems))
        largest = [(e.path, e.size) for e in listing.largest_files(8)]
        largest += [(f"{d}/", s) for d, s in listing.largest_dirs(4)]
        self.largest.set_items(sorted(largest, key=lambda item: -item[1]))
        self._offer_args_and_targets()
        self.build_button.setEnabled(text is not None)

    def _offer_args_and_targets(self) -> None:
        info = self.info
        if info is None:
            return
        if not self.buildargs.toPlainText().strip():
            lines = [f"{a.name}={a.default or ''}" for a in info.args
                     if a.stage is not None or a.default is not None]
            self.buildargs.setPlainText("\n".join(dict.fromkeys(lines)))
        current = self.target.currentText()
        self.target.clear()
        self.target.addItem("(last stage)", None)
        for name in info.stage_names():
            self.target.addItem(name, name)
        if current:
            self.target.setCurrentText(current)

    # -- the result -----------------------------------------------------------------

    def request(self) -> BuildRequest:
        args: dict[str, str] = {}
        for line in self.buildargs.toPlainText().splitlines():
            name, sep, value = line.strip().partition("=")
            if name and sep:
                args[name] = value
        tags = tuple(t.strip() for t in self.tags.text().split(",") if t.strip())
        target = self.target.currentData()
        return BuildRequest(
            listing=None if self.tar else self.listing, tar=self.tar, tags=tags,
            buildargs=args, target=str(target) if target else None,
            nocache=self.nocache.isChecked(), pull=self.pull.isChecked(),
            buildkit=True if self.buildkit.isChecked() else None,
        )

    def done(self, result: int) -> None:
        if self._walk is not None:
            with contextlib.suppress(Exception):
                self._walk.cancel()
        super().done(result)


def _row(field: QWidget, button: QWidget) -> QWidget:
    row = QWidget()
    layout = QHBoxLayout(row)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.addWidget(field, 1)
    layout.addWidget(button)
    return row


def _default_tag(folder: Path) -> str:
    name = "".join(ch if ch.isalnum() or ch in "._-" else "-" for ch in folder.name.lower())
    return name.strip("._-") or "image"
