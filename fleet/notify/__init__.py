"""Notifications in the shape Argo CD users know: `argocd-notifications-cm` (services,
templates, triggers), subscription annotations on Applications, the sent-state annotation.

  config.py         the ConfigMap and Secret, parsed; problems name the key
  catalog.py        built-in triggers (Argo CD's catalog conditions, plus on-drift-detected)
                    and templates
  expr.py           trigger conditions: a bounded evaluator of expr-lang's common subset
  subscriptions.py  annotations -> trigger -> destinations
  selector.py       label selectors in string form (the ConfigMap's `subscriptions`)
  state.py          `notified.notifications.argoproj.io`: what was sent, in Argo CD's keys
  decide.py         one Application's change -> notifications due, keys re-armed (pure)
  templates.py      Go templates rendered with generators' sandboxed engine
  services/         slack.py, teams.py, webhook.py: a rendered notification -> one request
  http.py           the outbound client (timeouts, size bound, TLS, no redirects)
  delivery.py       bounded queue, retries with capped jittered backoff
  runner.py         the Notifier task: watch, decide, deliver, record
  commands.py check.py   `fleet notifications check`: the ConfigMap offline, a dry run per app
See docs/notifications.md.
"""
