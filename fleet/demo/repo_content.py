"""What the demo's git config repository holds, and the ApplicationSet that deploys it.

Three apps, in the two layouts platform teams use most:
- `apps/guestbook`: a kustomize base (Deployment, Service, ConfigMap) and one overlay per
  environment that changes the replica count and a ConfigMap value;
- `apps/redis` and `apps/motd`: plain YAML directories, one per environment.

Every app has `overlays/staging` and `overlays/production`, so one ApplicationSet (clusters x
git directories) points each cluster at `apps/<app>/overlays/<its env label>`. Kept as Python
strings so the package needs no data files and the tests read exactly what the demo commits.
"""

from __future__ import annotations

from typing import Any

from fleet.api.resources import API_VERSION, DEFAULT_NAMESPACE

APPSET_NAME = "demo"
APPSET_PATH = "appsets/demo.yaml"
ENVIRONMENTS = ("staging", "production")
APPS = ("guestbook", "motd", "redis")
"""Git directories under apps/, in the order the git generator lists them (sorted)."""

GUESTBOOK_DEPLOYMENT = "guestbook"
GUESTBOOK_CONFIGMAP = "guestbook-config"
GUESTBOOK_NAMESPACE = "guestbook"

REPLICAS = {"staging": 1, "production": 3}
MESSAGES = {"staging": "hello from staging", "production": "hello from production"}

ROLLOUT_REPLICAS = 4
ROLLOUT_MESSAGE = "hello from production, release 2"
"""Step 3 of the demo commits these into the production overlay of guestbook."""

README = """\
# fleet demo config repository

Made by `fleet demo`. `appsets/demo.yaml` is the ApplicationSet the demo applied to the hub:
every registered cluster (label `env`) x every directory under `apps/` becomes one
Application that deploys `apps/<app>/overlays/<env>` into namespace `<app>`.

Try: edit an overlay, commit, and watch the demo's view (or `fleet app list`) roll it out.
"""

_GUESTBOOK_BASE = {
    "apps/guestbook/base/kustomization.yaml": """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - deployment.yaml
  - service.yaml
  - configmap.yaml
""",
    "apps/guestbook/base/deployment.yaml": """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: guestbook
  labels:
    app.kubernetes.io/name: guestbook
spec:
  replicas: 1
  selector:
    matchLabels:
      app.kubernetes.io/name: guestbook
  template:
    metadata:
      labels:
        app.kubernetes.io/name: guestbook
    spec:
      containers:
        - name: guestbook
          image: gcr.io/heptio-images/ks-guestbook-demo:0.2
          ports:
            - containerPort: 80
          envFrom:
            - configMapRef:
                name: guestbook-config
""",
    "apps/guestbook/base/service.yaml": """\
apiVersion: v1
kind: Service
metadata:
  name: guestbook
  labels:
    app.kubernetes.io/name: guestbook
spec:
  selector:
    app.kubernetes.io/name: guestbook
  ports:
    - port: 80
      targetPort: 80
""",
    "apps/guestbook/base/configmap.yaml": """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: guestbook-config
data:
  MESSAGE: hello from the base
  COLOR: blue
""",
}


def guestbook_overlay(env: str, replicas: int, message: str) -> str:
    """The kustomization of one guestbook overlay: the base, a replica count, a message."""
    return f"""\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ../../base
labels:
  - pairs:
      fleet-demo/env: {env}
replicas:
  - name: guestbook
    count: {replicas}
patches:
  - patch: |-
      apiVersion: v1
      kind: ConfigMap
      metadata:
        name: guestbook-config
      data:
        MESSAGE: {message}
"""


def _redis(env: str) -> str:
    replicas = 1 if env == "staging" else 2
    return f"""\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: redis
  labels:
    app.kubernetes.io/name: redis
    fleet-demo/env: {env}
spec:
  replicas: {replicas}
  selector:
    matchLabels:
      app.kubernetes.io/name: redis
  template:
    metadata:
      labels:
        app.kubernetes.io/name: redis
    spec:
      containers:
        - name: redis
          image: redis:7.4-alpine
          ports:
            - containerPort: 6379
---
apiVersion: v1
kind: Service
metadata:
  name: redis
spec:
  selector:
    app.kubernetes.io/name: redis
  ports:
    - port: 6379
      targetPort: 6379
"""


def _motd(env: str) -> str:
    return f"""\
apiVersion: v1
kind: ConfigMap
metadata:
  name: motd
data:
  motd: "Welcome to the {env} fleet. Changes go through git."
"""


def guestbook_overlay_path(env: str) -> str:
    return f"apps/guestbook/overlays/{env}/kustomization.yaml"


def application_set(repo_url: str, namespace: str = DEFAULT_NAMESPACE) -> dict[str, Any]:
    """The ApplicationSet: (clusters with an `env` label) x (directories under apps/).

    Default (fasttemplate) mode, as most Argo CD ApplicationSets are written: `{{name}}` and
    `{{server}}` come from the clusters generator, `{{metadata.labels.env}}` from the cluster's
    labels, `{{path.basename}}` from the git directories generator.
    """
    return {
        "apiVersion": API_VERSION,
        "kind": "ApplicationSet",
        "metadata": {"name": APPSET_NAME, "namespace": namespace},
        "spec": {
            "generators": [
                {
                    "matrix": {
                        "generators": [
                            {
                                "clusters": {
                                    "selector": {
                                        "matchExpressions": [
                                            {
                                                "key": "env",
                                                "operator": "In",
                                                "values": list(ENVIRONMENTS),
                                            }
                                        ]
                                    }
                                }
                            },
                            {
                                "git": {
                                    "repoURL": repo_url,
                                    "revision": "main",
                                    "directories": [{"path": "apps/*"}],
                                }
                            },
                        ]
                    }
                }
            ],
            "template": {
                "metadata": {
                    "name": "{{path.basename}}-{{name}}",
                    "labels": {
                        "fleet-demo/app": "{{path.basename}}",
                        "fleet-demo/cluster": "{{name}}",
                    },
                },
                "spec": {
                    "project": "default",
                    "source": {
                        "repoURL": repo_url,
                        "targetRevision": "main",
                        "path": "apps/{{path.basename}}/overlays/{{metadata.labels.env}}",
                    },
                    "destination": {"server": "{{server}}", "namespace": "{{path.basename}}"},
                    "syncPolicy": {
                        "automated": {"prune": True, "selfHeal": True},
                        "syncOptions": ["CreateNamespace=true"],
                    },
                },
            },
        },
    }


def default_project(namespace: str = DEFAULT_NAMESPACE) -> dict[str, Any]:
    """Argo CD's `default` AppProject: any repository, any destination, any kind."""
    return {
        "apiVersion": API_VERSION,
        "kind": "Project",
        "metadata": {"name": "default", "namespace": namespace},
        "spec": {
            "description": "Everything allowed (Argo CD's default project)",
            "sourceRepos": ["*"],
            "destinations": [{"server": "*", "namespace": "*"}],
            "clusterResourceWhitelist": [{"group": "*", "kind": "*"}],
        },
    }


def initial_files(repo_url: str) -> dict[str, str]:
    """Path -> text of the repository's first commit."""
    import yaml

    files = {"README.md": README, **_GUESTBOOK_BASE}
    for env in ENVIRONMENTS:
        files[guestbook_overlay_path(env)] = guestbook_overlay(env, REPLICAS[env], MESSAGES[env])
        files[f"apps/redis/overlays/{env}/redis.yaml"] = _redis(env)
        files[f"apps/motd/overlays/{env}/motd.yaml"] = _motd(env)
    files[APPSET_PATH] = yaml.safe_dump(application_set(repo_url), sort_keys=False)
    return files


def rollout_files() -> dict[str, str]:
    """Step 3's commit: the production overlay of guestbook gets a new replica count and message."""
    return {
        guestbook_overlay_path("production"): guestbook_overlay(
            "production", ROLLOUT_REPLICAS, ROLLOUT_MESSAGE
        )
    }
