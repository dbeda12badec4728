"""``gossipper tui`` and ``-interactive``: an urwid interface on the run's own Trio loop."""
