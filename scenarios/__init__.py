"""Built-in scenarios (``-sn NAME``), shipped as gossipper.builtin_scenarios."""
