"""The Trio engine: one task per call, dispatch by Call-ID, pacing, quit logic."""

from __future__ import annotations

from gossipper.engine.engine import Engine, EngineResult, EngineStatistics, QuitState

__all__ = ["Engine", "EngineResult", "EngineStatistics", "QuitState"]
