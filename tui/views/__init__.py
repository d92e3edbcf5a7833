"""View models: what the widgets draw, computed without Textual (tested on their own).

`alert_rows` and `alert_buffer` for the Falco pane, `clocks` for the header's MTTD/MTTC/MTTR,
`cluster_views` and `cluster_loader` for the NetworkPolicy and Mesh panes.
"""
