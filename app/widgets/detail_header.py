"""The header of a detail pane: what is selected, at a glance.

    [icon]  web-1   (● running)
            nginx:1.27 · 3f2a1c9e0b7d · Up 5 minutes · localhost:8080 → 80

The name is large, the state a badge, the facts one line below with each
published port a link that opens the browser, and the uptime ageing as the
clock ticks (app.models.ticking's clock, so a hidden header costs nothing).
The Containers and Images panes fill it; it knows no engine, only what it is
told to show.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QIcon
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QWidget

from app.models.ticking import relative_time_clock
from app.widgets.badges import StateBadge
from app.widgets.glyph import Glyph
from app.widgets.link_label import LinkLabel

ICON_SIZE = 32


class DetailHeader(QWidget):
    """Name, state badge, a line of facts, port links and a ticking uptime."""

    #: A port link was clicked (its URL); the header also opens it in the browser.
    linkOpened = Signal(str)

    def __init__(self, name: str, icon: QIcon | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(f"{name}-header")
        self.glyph = Glyph(icon, ICON_SIZE, parent=self)
        self.title = QLabel(self)
        self.title.setObjectName(f"{name}-title")
        self.title.setTextFormat(Qt.TextFormat.RichText)
        font = self.title.font()
        font.setPointSizeF(font.pointSizeF() * 1.25)
        self.title.setFont(font)
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.title.setMinimumWidth(1)  # a long name gives way (clipped) to the badge
        self.badge = StateBadge(self)
        self.badge.setObjectName(f"{name}-state")
        self.badge.hide()
        self.facts = QLabel(self)
        self.facts.setObjectName(f"{name}-facts")
        self.facts.setTextFormat(Qt.TextFormat.PlainText)  # names and tags are not markup
        self.facts.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.facts.setMinimumWidth(1)
        self.uptime = QLabel(self)
        self.uptime.setObjectName(f"{name}-uptime")
        self.uptime.setTextFormat(Qt.TextFormat.PlainText)
        self.ports = LinkLabel(self)
        self.ports.setObjectName(f"{name}-ports")
        self.ports.setAccessibleName("Published ports")
        self.ports.setTextInteractionFlags(Qt.TextInteractionFlag.LinksAccessibleByMouse
                                           | Qt.TextInteractionFlag.LinksAccessibleByKeyboard)
        self.ports.linkActivated.connect(self.open_link)
        self.links: list[tuple[str, str]] = []
        self._uptime: Callable[[], str] | None = None
        relative_time_clock().timeout.connect(self.tick)

        top = self._top = QHBoxLayout()
        top.setSpacing(8)
        top.addWidget(self.title)
        top.addWidget(self.badge, 0, Qt.AlignmentFlag.AlignVCenter)
        top.addStretch(1)
        below = QHBoxLayout()
        below.setSpacing(12)
        below.addWidget(self.facts)
        below.addWidget(self.uptime)
        below.addWidget(self.ports)
        below.addStretch(1)
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(10)
        grid.setVerticalSpacing(2)
        grid.addWidget(self.glyph, 0, 0, 2, 1, Qt.AlignmentFlag.AlignVCenter)
        grid.addLayout(top, 0, 1)
        grid.addLayout(below, 1, 1)
        grid.setColumnStretch(1, 1)
        self.show_nothing("")

    def add_action(self, widget: QWidget) -> None:
        """A button for the shown item, at the header's right (where the tab bar below
        has no room left for it)."""
        self._top.addWidget(widget, 0, Qt.AlignmentFlag.AlignVCenter)

    def show_nothing(self, hint: str) -> None:
        """Nothing selected: the hint (what to do) in place of a name."""
        self.title.setText(html.escape(hint))
        self.glyph.quiet = True
        self.glyph.update()
        self.badge.set_state("", "idle")
        self.facts.setText("")
        self.set_links([])
        self.set_uptime(None)

    def show_item(self, title_html: str, state: str, tone: str, facts: str,
                  links: Sequence[tuple[str, str]] = (),
                  uptime: Callable[[], str] | None = None) -> None:
        """Show one item: ``title_html`` (already escaped), its state badge, a line of
        plain ``facts``, port ``links`` as (URL, words) and ``uptime``, a function the
        header calls again on every tick of the clock."""
        self.title.setText(title_html)
        self.glyph.quiet = False
        self.glyph.update()
        self.badge.set_state(state, tone)
        self.facts.setText(facts)
        self.facts.setToolTip(facts)
        self.set_links(links)
        self.set_uptime(uptime)

    def set_links(self, links: Sequence[tuple[str, str]]) -> None:
        self.links = list(links)
        self.ports.set_html(" &nbsp; ".join(
            f'<a href="{html.escape(url)}">{html.escape(text)}</a>' for url, text in links))
        self.ports.setToolTip("\n".join(f"Open {url} in the browser" for url, _ in links))
        self.ports.setVisible(bool(links))

    def set_uptime(self, uptime: Callable[[], str] | None) -> None:
        self._uptime = uptime
        self.uptime.setText(uptime() if uptime is not None else "")
        self.uptime.setVisible(bool(self.uptime.text()))

    def tick_now(self) -> None:
        """Recompute the uptime at once (its inputs changed), shown or not."""
        if self._uptime is not None:
            self.uptime.setText(self._uptime())
            self.uptime.setVisible(bool(self.uptime.text()))

    def tick(self) -> None:
        """The clock ticked: "Up 5 minutes" becomes "Up 6 minutes" (when on screen)."""
        if self._uptime is not None and self.isVisible():
            self.uptime.setText(self._uptime())

    def open_link(self, url: str) -> None:
        self.linkOpened.emit(url)
        QDesktopServices.openUrl(QUrl(url))

    def plain_text(self) -> str:
        """Everything the header says, as words (for tests and the accessible description)."""
        parts = [self.title.text(), self.badge.text, self.facts.text(), self.uptime.text(),
                 *(text for _url, text in self.links)]
        return " ".join(p for p in parts if p)
