"""Global CLI options shared by all command groups."""

from dataclasses import dataclass, field


@dataclass
class _State:
    verbose: bool = False
    # The arguments after `stepeval` of the running command: a launcher starts its shards with them.
    argv: list[str] = field(default_factory=list)


STATE = _State()
