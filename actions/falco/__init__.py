"""Falco output: parsing lines of every Falco version's shape, and the runbook's classification.

`parse_line` and `iter_lines` (actions.falco.parse) read a stream; `Classifier`
(actions.falco.classify) maps an alert to the runbook's category and severity.
"""
