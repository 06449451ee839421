"""One module per ``symprop`` subcommand; each has ``add_parser`` and ``run``.

The commands only parse arguments and call the library.
"""

COMMANDS = ["demo", "explain", "grad", "check", "graph", "train", "rules", "derive"]
