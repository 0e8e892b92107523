"""Global CLI options shared by all command groups."""

from dataclasses import dataclass


@dataclass
class _State:
    verbose: bool = False


STATE = _State()
