"""``gossipper server -config FILE.json``: one long-running process hosting several runs."""
