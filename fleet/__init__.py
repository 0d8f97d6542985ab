"""fleet: a central, asynchronous GitOps controller for fleets of Kubernetes clusters."""

__version__ = "0.1.0"

from fleet import lean_kubernetes

lean_kubernetes.install()
