"""A strict reader of the report pages for tests: balanced tags, unique ids, references."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from html.parser import HTMLParser
from typing import Any

VOID = {"meta", "link", "br", "hr", "img", "input", "source", "wbr", "col", "area", "base"}


class PageReader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.problems: list[str] = []
        self.ids: list[str] = []
        self.references: list[tuple[str, str, str]] = []  # (tag, attribute, value)
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self.styles: list[str] = []
        self.cells: list[tuple[dict[str, str | None], str]] = []
        self._script: dict[str, str | None] | None = None
        self._text: list[str] = []
        self._cell: dict[str, str | None] | None = None
        self._cell_text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag not in VOID:
            self.stack.append(tag)
        if "id" in attributes and attributes["id"] is not None:
            self.ids.append(attributes["id"])
        for name in ("href", "src", "action", "data", "poster", "formaction"):
            value = attributes.get(name)
            if value is not None:
                self.references.append((tag, name, value))
        if tag in ("script", "style"):
            self._script = attributes
            self._text = []
        if "data-metric" in attributes:
            self._cell = attributes
            self._cell_text = []

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()
        if tag in ("script", "style") and self._script is not None:
            text = "".join(self._text)
            if tag == "script":
                self.scripts.append((self._script, text))
            else:
                self.styles.append(text)
            self._script = None
        if self._cell is not None and tag in ("td", "b"):
            self.cells.append((self._cell, "".join(self._cell_text).strip()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._script is not None:
            self._text.append(data)
        if self._cell is not None:
            self._cell_text.append(data)


OPTIONAL_IDS: dict[str, Callable[[set[str]], bool]] = {
    # The media charts' holders are in the media section, which only pages of runs with media
    # have (report.js skips the chart without it); with a media section it must be there.
    "chart-mos": lambda ids: "media" in ids,
    "chart-media": lambda ids: "media" in ids,
}
"""Ids the report's script looks up that a page may lack: id -> when the page must have it."""


def read_page(text: str) -> PageReader:
    """Parse a page and check what every report must satisfy; returns the reader."""
    assert text.startswith("<!DOCTYPE html>")
    reader = PageReader()
    reader.feed(text)
    reader.close()
    assert not reader.problems, reader.problems
    assert reader.stack == [], f"unclosed: {reader.stack}"
    assert len(reader.ids) == len(set(reader.ids)), "duplicate ids"
    ids = set(reader.ids)
    for tag, attribute, value in reader.references:
        # Self-contained: nothing loaded from anywhere, every internal link resolves.
        assert not re.match(r"(?i)\s*(https?:|//|file:|ftp:)", value), (tag, attribute, value)
        assert value.startswith("#"), f"<{tag} {attribute}={value!r}>: not an internal link"
        assert value[1:] in ids, f"<{tag} {attribute}={value!r}>: no such id"
    for style in reader.styles:
        assert not re.search(r"(?i)url\(\s*['\"]?\s*(https?:|//)", style)
        assert "@import" not in style
    for attributes, script in reader.scripts:
        assert attributes.get("src") is None
        for referenced in re.findall(r"getElementById\(\"([^\"]+)\"\)", script):
            if referenced in OPTIONAL_IDS and not OPTIONAL_IDS[referenced](ids):
                continue
            assert referenced in ids, f"script refers to #{referenced}, not in the page"
    return reader


def embedded_data(reader: PageReader) -> dict[str, Any]:
    (script,) = [text for attrs, text in reader.scripts if attrs.get("id") == "report-data"]
    data: dict[str, Any] = json.loads(script)
    return data
