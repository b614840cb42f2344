"""The builder of the shipped built-in face model (not runtime code; see build.py)."""
