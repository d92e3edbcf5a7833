"""The console's widgets: panes, bars and the footer, fed by the screen, Textual only.

Each widget posts messages up and takes attributes down; none imports a screen, a
dialog or the app (an import contract checks). The plain rows and clocks they show are
built in `tui.views`, without Textual.

| module | widget |
|---|---|
| pane | the titled frame every war-room pane shares |
| alert_pane, alert_list | the Falco pane: streaming alerts over a Line-API list |
| policy_pane, mesh_pane, table_diff | NetworkPolicies and Mesh panes, diffed per poll |
| timeline_pane | the incident's record entries |
| header, phase_bar, drill_strip | where and what, the runbook's phases, the facilitator's strip |
| key_footer, toggles, component_styles | the footer, accessible toggles, cached component styles |
"""
