"""The private tmux server of the live-screen tests, shared by the TUI's end-to-end tests."""

from __future__ import annotations

from tests.tmux_terminal import tmux

__all__ = ["tmux"]
