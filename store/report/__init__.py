"""The incident report: the runbook's Phase 5 template filled from the record, as markdown.

Start at `render.py` (the template, section by section); `sections` holds the free-text
sections written in the console, `deadlines` the reporting clocks, `markdown` the one
escaping function every untrusted value goes through.
"""
