"""The `warroom` command line: `main.py` builds one argparse tree, one `cmd_*.py` per command.

`console.py` opens the console (drill, live, review) over an `actions.runtime.ConsoleRuntime`;
`common.py` holds the exit codes and the options every command shares.
"""
