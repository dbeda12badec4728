"""The value type of text captured by ``ereg`` (docs/sipp-behaviour.md#variables).

A module of its own because it subclasses ``str``, which mypyc does not compile: keeping it
here lets ``variables.py`` (read and written by every call) be compiled with the hot path.
"""

from __future__ import annotations


class RegexpMatch(str):
    """A string captured by ``ereg``; distinguished from plain strings for the "is set" rule."""

    __slots__ = ()
