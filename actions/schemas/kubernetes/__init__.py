"""The Kubernetes 1.37 definitions bundle (data): see `actions.schemas.kubernetes_definitions`."""
