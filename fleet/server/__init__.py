"""The controller's HTTP side: probes, Prometheus metrics and the git webhook receiver."""
