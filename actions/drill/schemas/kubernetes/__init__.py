"""The Kubernetes 1.37 definitions bundle (data): see `actions.drill.schemas`."""
