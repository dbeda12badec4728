"""``-workers N``: one load test in N processes with one screen and one result.

``supervisor`` is the parent (start barrier, command fan-out, merged statistics, failure
handling); ``child`` is the worker end inside an ordinary run; ``wire`` their channel. See
docs/architecture.md, "Workers".
"""
