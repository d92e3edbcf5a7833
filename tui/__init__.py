"""The console and the command line: the only layer that imports Textual.

- `app.py`: `WarRoomApp` and `run_console`, the one entry the commands call; `services.py`
  what it is given (`Services`, no Textual).
- `screens/`: the war room (its key groups in `screens/keys/`) and the report screen.
- `dialogs/`: the modals and forms; `widgets/`: panes, bars, the footer; `views/`: the
  Textual-free view models the widgets draw.
- `cli/`: the `warroom` command line, one module per command (`cli/console.py` opens the
  console for drill, live and review).
- `commands.py` the command palette, built from the bindings; `safe.py` the sanitiser
  every cluster string passes; `textual_workarounds.py` every reach into Textual's
  internals, each with its measurement; `collector.py` the GC tuning.
"""
