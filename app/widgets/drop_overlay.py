"""Drop a Dockerfile, a folder or a tar anywhere on the window to build it — or an
image archive (``docker save``'s ``.tar`` / ``.tar.gz``) to load it, or a Compose file
(or a folder holding one) to open it as an app.

While something droppable is dragged over the window an overlay says what will
happen; dropping emits :attr:`DropBuild.dropped` (build) or
:attr:`DropBuild.load_dropped` (an image archive) with the path.  Which one a tar
is comes from its first entries (:func:`is_image_archive`): a few kB read.
"""

from __future__ import annotations

import gzip
import re
import tarfile
import zlib
from pathlib import Path
from typing import IO, cast

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QLabel, QWidget

import engine


def droppable_path(event: QDropEvent) -> Path | None:
    """The one local file or folder being dragged, if there is exactly one."""
    urls = event.mimeData().urls() if event.mimeData() is not None else []
    if len(urls) != 1 or not urls[0].isLocalFile():
        return None
    path = Path(urls[0].toLocalFile())
    return path if path.exists() else None


#: The first entries of a docker-archive (Docker ≤ 24: layer folders, the config JSON,
#: manifest.json; Podman: ``<diffid>.tar``) or an OCI layout (Docker 25+).
_ARCHIVE_ENTRY = re.compile(
    r"^(?:\./)?(?:manifest\.json|repositories|index\.json|oci-layout|blobs(?:/|$)"
    r"|[0-9a-f]{64}(?:/|\.json$|\.tar$))")


#: How far into a dragged file the check may read (after un-gzipping): it runs on the
#: GUI thread at drag-enter, and a multi-GB build context must not stall the window.
LOOK_LIMIT = 8 << 20


class _Limited:
    """A file read no further than ``limit`` bytes (then OSError)."""

    def __init__(self, stream: IO[bytes], limit: int) -> None:
        self.stream, self.left = stream, limit

    def read(self, size: int = -1) -> bytes:
        if size < 0 or size > self.left:
            raise OSError("read too far to decide")
        data = self.stream.read(size)
        self.left -= len(data)
        return data


def is_image_archive(path: Path) -> bool:
    """True for an image archive as ``docker save`` / ``podman save`` write (gzipped too).

    The first few entries decide (an archive's names say what it is at once); at most
    :data:`LOOK_LIMIT` bytes are read."""
    if not path.is_file():
        return False
    try:
        with path.open("rb") as raw:
            gzipped = raw.read(2) == b"\x1f\x8b"
            raw.seek(0)
            stream = cast(IO[bytes], gzip.GzipFile(fileobj=raw)) if gzipped else raw
            with tarfile.open(fileobj=cast(IO[bytes], _Limited(stream, LOOK_LIMIT)),
                              mode="r|") as archive:
                for count, member in enumerate(archive):
                    if _ARCHIVE_ENTRY.match(member.name):
                        return True
                    if count >= 2:
                        return False
    except (OSError, tarfile.TarError, EOFError, zlib.error):
        return False
    return False


def describe_drop(path: Path) -> str:
    if is_image_archive(path):
        return f"Drop to load the images in {path.name}"
    if (compose := engine.compose_file_in(path)) is not None:
        where = f"{path.name}/{compose.name}" if path.is_dir() else compose.name
        return f"Drop to open the Compose app {where}"
    if path.is_dir():
        return f"Drop to build the folder {path.name}/ (its Dockerfile)"
    from app.widgets.build_sheet import is_tar  # the build machinery, on first drop

    if is_tar(path):
        return f"Drop to build from the archive {path.name}"
    return f"Drop to build {path.name} with {path.parent.name}/ as the context"


def accept_as_copy(event: QDropEvent) -> bool:
    """Accept the drag as a Copy (else a Link), never as the Move a file manager may propose.

    A Move tells the source it may delete the file once dropped; building only reads it.
    """
    for action in (Qt.DropAction.CopyAction, Qt.DropAction.LinkAction):
        if event.possibleActions() & action:
            event.setDropAction(action)
            event.accept()
            return True
    event.ignore()
    return False


class DropBuild(QObject):
    dropped = Signal(Path)
    load_dropped = Signal(Path)

    def __init__(self, window: QWidget) -> None:
        super().__init__(window)
        self._target = window
        window.setAcceptDrops(True)
        window.installEventFilter(self)
        self.overlay = QLabel(window)
        self.overlay.setObjectName("drop-overlay")
        self.overlay.setAccessibleName("Drop to build")
        self.overlay.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.overlay.setWordWrap(True)
        self.overlay.setStyleSheet(
            "#drop-overlay { background: rgba(20, 60, 110, 200); color: white;"
            " font-size: 20pt; border: 3px dashed white; border-radius: 12px; }")
        self.overlay.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.overlay.hide()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        # getattr: Qt may still filter events while this wrapper is being torn down.
        if watched is not getattr(self, "_target", None):
            return False
        kind = event.type()
        if kind == QEvent.Type.DragEnter and isinstance(event, QDragEnterEvent):
            path = droppable_path(event)
            if path is None or not accept_as_copy(event):
                return False
            self.overlay.setText(describe_drop(path))
            self.overlay.setGeometry(self._target.rect().adjusted(24, 24, -24, -24))
            self.overlay.raise_()
            self.overlay.show()
            return True
        if kind == QEvent.Type.DragMove and isinstance(event, QDragMoveEvent):
            if droppable_path(event) is None:
                return False
            accept_as_copy(event)
            return True
        if kind == QEvent.Type.DragLeave:
            self.overlay.hide()
            return False
        if kind == QEvent.Type.Drop and isinstance(event, QDropEvent):
            self.overlay.hide()
            path = droppable_path(event)
            if path is None or not accept_as_copy(event):
                return False
            (self.load_dropped if is_image_archive(path) else self.dropped).emit(path)
            return True
        return False
