"""The built-in drill scenarios (data: one YAML file each, format in `actions.drill.scenario`)."""
