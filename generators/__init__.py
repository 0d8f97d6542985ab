"""ApplicationSet expansion: generators, templates, Applications. Pure: no network, no Kubernetes."""
