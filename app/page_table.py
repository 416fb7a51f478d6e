"""Every page of the window, in sidebar order: one line each.

The window builds its sidebar, its page stack, the "Go to" actions and the
saved layouts from this table; a new page (Volumes, Networks…) is one more
line here and its own module under app/pages/.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtWidgets import QWidget

from app.pages.apps import AppsPage
from app.pages.containers import ContainersPage
from app.pages.disk import DiskPage
from app.pages.engine import EnginePage
from app.pages.images import ImagesPage
from app.pages.networks import NetworksPage
from app.pages.registries import RegistriesPage
from app.pages.volumes import VolumesPage
from app.session import EngineSession
from app.settings import Settings


@dataclass(frozen=True)
class PageSpec:
    #: Names the page's saved layout ("<key>-splitter", "<key>-columns-N").
    key: str
    title: str
    #: A freedesktop icon name for the sidebar; "" for none.
    icon: str
    shortcut: str
    factory: Callable[[EngineSession, Settings], QWidget]


PAGES = (
    PageSpec("containers", "Containers", "", "Ctrl+1", ContainersPage),
    PageSpec("images", "Images", "", "Ctrl+2", lambda session, _settings: ImagesPage(session)),
    PageSpec("volumes", "Volumes", "", "Ctrl+3", lambda session, _settings: VolumesPage(session)),
    PageSpec("networks", "Networks", "", "Ctrl+4",
             lambda session, _settings: NetworksPage(session)),
    PageSpec("disk", "Disk usage", "", "Ctrl+5", lambda session, _settings: DiskPage(session)),
    PageSpec("apps", "Apps", "", "Ctrl+6", lambda session, _settings: AppsPage(session)),
    PageSpec("registries", "Registries", "", "Ctrl+7",
             lambda session, _settings: RegistriesPage(session)),
    # The design's order: the resource pages first, the engine's own page after them.
    PageSpec("engine", "Engine", "", "Ctrl+8", EnginePage),
)
