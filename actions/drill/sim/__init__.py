"""The drill cluster's simulated world: what a real cluster would show as a scenario plays.

Start at `engine.DrillEngine` (builds the starting cluster, plays injects, reacts to what
the team changes); `attack`, `traffic`, `mesh`, `hubble`, `promql` and `shown` produce
what the cluster shows each tick; `reactions` how the world answers a change; `render`
shapes objects and log lines as a real cluster writes them.
"""
