"""status.summary as Argo CD fills it: images the workloads run, URLs the Application is at."""

from __future__ import annotations

from typing import Any

from fleet.sync.status import AppStatus
from fleet.sync.summary import (
    MAX_ENTRIES,
    ingress_urls,
    links,
    merge_links,
    stored_summary,
    summarize,
)


def deployment(*images: str, init: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "template": {
                "spec": {
                    "initContainers": [{"name": f"i{n}", "image": i} for n, i in enumerate(init)],
                    "containers": [{"name": f"c{n}", "image": i} for n, i in enumerate(images)],
                }
            }
        },
    }


def ingress(rules: list[Any], tls: list[Any] | None = None, lb: list[Any] | None = None) -> Any:
    obj: dict[str, Any] = {"kind": "Ingress", "metadata": {"name": "web"}, "spec": {"rules": rules}}
    if tls is not None:
        obj["spec"]["tls"] = tls
    if lb is not None:
        obj["status"] = {"loadBalancer": {"ingress": lb}}
    return obj


def rule(host: str | None, *paths: str) -> dict[str, Any]:
    out: dict[str, Any] = {"http": {"paths": [{"path": p} for p in paths]}}
    if host is not None:
        out["host"] = host
    return out


def test_images_are_the_containers_and_init_containers_sorted_without_repeats() -> None:
    lives = [
        deployment("nginx:1.27", "sidecar:2", init=("migrate:1",)),
        deployment("nginx:1.27"),
        {"kind": "ConfigMap", "data": {"image": "not-an-image"}},
        None,  # a desired object not created yet
    ]
    assert summarize(lives) == {"images": ["migrate:1", "nginx:1.27", "sidecar:2"]}


def test_images_of_every_workload_kind_and_bare_pods() -> None:
    template = {"spec": {"containers": [{"image": "x"}]}}
    lives = [
        {"kind": "Pod", "spec": {"containers": [{"image": "pod"}]}},
        {"kind": "StatefulSet", "spec": {"template": {"spec": {"containers": [{"image": "sts"}]}}}},
        {"kind": "DaemonSet", "spec": {"template": {"spec": {"containers": [{"image": "ds"}]}}}},
        {"kind": "Job", "spec": {"template": {"spec": {"containers": [{"image": "job"}]}}}},
        {"kind": "CronJob", "spec": {"jobTemplate": {"spec": {"template": template}}}},
    ]
    assert summarize(lives)["images"] == ["ds", "job", "pod", "sts", "x"]


def test_an_ingress_gives_a_url_per_rule_path_without_the_trailing_wildcard() -> None:
    live = ingress([rule("shop.example.com", "/", "/api/*"), rule("admin.example.com", "")])
    assert sorted(ingress_urls(live)) == [
        "http://admin.example.com",
        "http://shop.example.com/",
        "http://shop.example.com/api/",
    ]


def test_an_ingress_with_a_tls_secret_is_https() -> None:
    live = ingress([rule("shop.example.com", "/")], tls=[{"secretName": "cert"}])
    assert ingress_urls(live) == ["https://shop.example.com/"]


def test_a_rule_without_a_host_takes_the_load_balancers_hostname_or_ip() -> None:
    lb = [{"ip": ""}, {"hostname": "lb.example.net"}]
    assert ingress_urls(ingress([rule(None, "/")], lb=lb)) == ["http://lb.example.net/"]
    assert ingress_urls(ingress([rule("", "/")], lb=[{"ip": "10.0.0.9"}])) == ["http://10.0.0.9/"]
    assert ingress_urls(ingress([rule(None, "/")])) == []


def test_link_annotations_on_objects_and_on_the_application_are_external_urls() -> None:
    annotated = {
        "kind": "Service",
        "metadata": {"annotations": {"link.argocd.argoproj.io/docs": "https://docs.example.com"}},
    }
    status = AppStatus(summary=summarize([annotated]))
    app_links = ["https://grafana.example.com/d/web", "https://docs.example.com"]
    doc = status.to_dict(app_links)
    assert doc["summary"]["externalURLs"] == [
        "https://docs.example.com",
        "https://grafana.example.com/d/web",
    ]


def test_only_links_to_http_urls_are_kept_as_argo_cd_validates_them() -> None:
    values = [
        "https://ok.example.com",
        "Grafana|https://grafana.example.com/d/web",
        "HTTP://upper.example.com",
        "Empty|",  # an empty URL passes Argo CD's check
        "javascript:alert(document.cookie)",
        "Docs|javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        " javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox(1)",
        "https://x.example.com/\x01",
        "\thttps://tab.example.com",
        "/relative/path",
        "mailto:ops@example.com",
        "https://[::1",
    ]
    annotated = {
        "metadata": {
            "annotations": {f"link.argocd.argoproj.io/l{n}": v for n, v in enumerate(values)}
        }
    }
    expected = [
        "Empty|",
        "Grafana|https://grafana.example.com/d/web",
        "HTTP://upper.example.com",
        "https://ok.example.com",
    ]
    assert sorted(links(annotated)) == expected  # an Application's own links too
    assert summarize([annotated])["externalURLs"] == expected


def test_an_ingress_can_ignore_its_default_links_but_keeps_its_link_annotations() -> None:
    live = ingress([rule("dont-show-me.internal.example.com", "/")])
    live["metadata"]["annotations"] = {
        "argocd.argoproj.io/ignore-default-links": "true",
        "link.argocd.argoproj.io/external-link": "https://show-me.example.com/",
    }
    assert summarize([live])["externalURLs"] == ["https://show-me.example.com/"]
    for kept in ("false", "yes", ""):  # not true by Go's ParseBool: the rule's URL stays
        live["metadata"]["annotations"]["argocd.argoproj.io/ignore-default-links"] = kept
        assert "http://dont-show-me.internal.example.com/" in summarize([live])["externalURLs"]


def test_an_empty_summary_is_written_as_null_to_clear_what_a_merge_patch_would_keep() -> None:
    assert AppStatus().to_dict()["summary"] == {"images": None, "externalURLs": None}


def test_hostile_values_are_bounded_and_non_strings_ignored() -> None:
    lives = [deployment(*(f"img-{n:04}" for n in range(MAX_ENTRIES + 50)))]
    lives.append(deployment("x" * 5000))
    lives.append({"kind": "Deployment", "spec": {"template": {"spec": {"containers": "oops"}}}})
    lives.append({"kind": "Ingress", "spec": {"rules": [{"host": 7, "http": {"paths": [1]}}]}})
    images = summarize(lives)["images"]
    assert len(images) == MAX_ENTRIES and all(len(i) < 100 for i in images)
    assert merge_links([], [7, "https://a"]) == ["https://a"]  # type: ignore[list-item]


def test_a_stored_summary_is_read_back_without_non_strings() -> None:
    stored = {"images": ["b", "a", 3, None], "externalURLs": "not a list"}
    assert stored_summary(stored) == {"images": ["a", "b"]}
    assert AppStatus.from_dict({"summary": stored}).summary == {"images": ["a", "b"]}
