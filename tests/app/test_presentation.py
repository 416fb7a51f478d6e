"""The words rows show, from real-world history strings (classic, BuildKit, exec form)."""

from __future__ import annotations

import pytest

from app.presentation import clean_instruction


@pytest.mark.parametrize(
    ("created_by", "shown"),
    [
        ('/bin/sh -c #(nop)  CMD ["sh"]', 'CMD ["sh"]'),
        ("/bin/sh -c #(nop) COPY file:abc in /bin/busybox ", "COPY file:abc in /bin/busybox"),
        ("/bin/sh -c echo hi > /x", "RUN echo hi > /x"),
        ("RUN /bin/sh -c apk add curl # buildkit", "RUN apk add curl"),
        ("|2 A=1 B=two /bin/sh -c echo $A", "RUN echo $A"),
        ("/bin/busybox --install -s /bin", "RUN /bin/busybox --install -s /bin"),
        ('CMD ["sh"]', 'CMD ["sh"]'),
        ("ENV PATH=/usr/bin", "ENV PATH=/usr/bin"),
        ("", ""),
    ],
)
def test_clean_instruction(created_by: str, shown: str) -> None:
    assert clean_instruction(created_by) == shown
