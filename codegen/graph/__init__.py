"""The graph's own stage: rewriting passes, the golden reference that runs it, the memory planner."""
