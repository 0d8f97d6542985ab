"""The notifier's figures, on the controller's registry (fleet.server.metrics.Metrics)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

RESULTS = ("sent", "failed", "dropped", "error")
"""sent: delivered; failed: the receiver refused or never answered after every retry;
dropped: the delivery queue was full; error: a template, service or trigger problem."""


class NotifyMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        registry = registry if registry is not None else CollectorRegistry()
        self.notifications = Counter(
            "fleet_notifications",
            "Notifications by trigger, service and result (sent, failed, dropped, error)",
            ["trigger", "service", "result"],
            registry=registry,
        )
        self.retries = Counter(
            "fleet_notification_retries",
            "Delivery attempts repeated after a timeout, connection error, 429 or 5xx",
            ["service"],
            registry=registry,
        )
        self.insecure = Gauge(
            "fleet_notification_services_insecure",
            "Notification services configured with insecureSkipVerify: true",
            registry=registry,
        )
        self.queued = Gauge(
            "fleet_notification_queue_depth",
            "Notifications waiting for delivery or being delivered",
            registry=registry,
        )
