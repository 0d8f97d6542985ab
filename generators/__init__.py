"""ApplicationSet expansion: generators, templates, Applications. No network, no Kubernetes."""
