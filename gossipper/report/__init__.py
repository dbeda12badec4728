"""Reports of finished runs: ``gossipper report`` (one self-contained HTML file), pass/fail
gates, JUnit XML."""
