"""The console's full-size screens: the war room (`war_room`, its keys in `keys/`) and the report.

`war_room.WarRoomScreen` lays out the header, the phase bar and four panes, and gathers
its key groups from `keys/` (one module a job: incident, alerting, cluster actions,
checklist, report, feeds, facilitator, replay; `war_room_base` is what they share).
`report.ReportScreen` is the incident's markdown report with its free-text sections.
Modal and form screens are in `tui.dialogs`; panes and bars in `tui.widgets`.
"""
