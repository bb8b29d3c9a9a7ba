"""Operators: one module per operator, each the numpy twin of its C kernel."""
