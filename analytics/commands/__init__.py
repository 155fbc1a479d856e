"""Subcommands of ``python -m analytics``, one module each.

A command module defines::

    HELP: str                                      # one line for --help
    def add_arguments(parser) -> None              # its own options (--json is added for it)
    def run(args) -> dict                          # JSON-ready result, snake_case keys
    def format_text(result: dict) -> str           # the human-readable rendering
    def exit_code(result: dict) -> int             # optional; 0 when absent

and is listed in ``analytics.cli.COMMANDS``. Bad input raises ``DataValidationError``;
the CLI turns it into exit code 2 with the message on stderr.
"""
