"""The command-line subcommands, one module each (`circuitdesk NAME --help`); each adds its
arguments to the parser and runs without Qt."""
