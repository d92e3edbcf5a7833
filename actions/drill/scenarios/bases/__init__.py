"""The clusters scenarios start from (data: the voicehive namespace, plain, Istio or Linkerd)."""
