"""Status → exception mapping, including Podman's 500s that mean 409 or 404.

The Podman 500 for a vanished container comes from a race (a ``--rm``
container removing itself while it is being stopped) that a test cannot
trigger on demand; the messages below are Podman 4's own words, seen in CI.
"""

from __future__ import annotations

import pytest

import engine
from engine._errors import error_for_status


@pytest.mark.parametrize(("status", "message", "expected"), [
    (404, "No such container: abc", engine.NotFound),
    (409, "removal of container abc is already in progress", engine.Conflict),
    (400, "invalid reference format", engine.BadRequest),
    (500, "container abc is running: container state improper", engine.Conflict),
    (500, "name \"x\" is already in use by abc", engine.Conflict),
    (500, "container abc does not exist in database: no such container", engine.NotFound),
    (500, "no such exec session: no such exec", engine.NotFound),
    (500, "something else broke", engine.ServerError),
    (418, "teapot", engine.APIError),
])
def test_status_and_words_choose_the_class(
    status: int, message: str, expected: type[engine.APIError],
) -> None:
    error = error_for_status(status, message)
    assert type(error) is expected
    assert error.status == status  # what the daemon sent stays visible
    assert error.message == message


def test_short_messages_stay_verbatim() -> None:
    error = error_for_status(500, "driver failed\nprogramming external connectivity")
    assert error.message == "driver failed\nprogramming external connectivity"
    assert error.details == ""


def test_an_html_page_becomes_its_title_with_the_page_as_details() -> None:
    page = ("<!DOCTYPE html>\n<html><head><title>502 Bad\n Gateway</title></head>\n<body>"
            + "<p>upstream went away</p>\n" * 200 + "</body></html>")
    error = error_for_status(502, page)
    assert type(error) is engine.ServerError
    assert error.message == "502 Bad Gateway"
    assert str(error) == "502 Bad Gateway"
    assert error.details == page


def test_a_long_text_keeps_its_first_line() -> None:
    text = "first line of the failure\n" + "x" * 5000
    error = error_for_status(500, text)
    assert error.message == "first line of the failure"
    assert error.details == text
    one_huge_line = "y" * 5000
    error = error_for_status(400, one_huge_line)
    assert len(error.message) <= 300 and error.message.endswith("…")
    assert error.details == one_huge_line
