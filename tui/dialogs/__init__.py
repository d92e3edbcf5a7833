"""The console's modals and forms, one per file; opened by the war room's key groups.

Cluster actions go form (`action_form`) -> confirmation (`confirm_action`); the incident
keys use `forms`, `decision`, `close_incident`, `escalate`; `checklist`, `help`, `score`,
`proposal`, `replay_form`, `report_editor`, `timeline_entry` are each one job.
"""
