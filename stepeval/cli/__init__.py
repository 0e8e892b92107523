"""The stepeval command-line interface."""
