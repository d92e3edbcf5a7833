"""The war-room screen's key groups, one module per job (see `tui.screens.war_room_base`)."""
