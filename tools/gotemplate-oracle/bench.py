"""Micro-benchmark: microseconds per execute for typical ApplicationSet field templates.

Run: PYTHONPATH=. python tools/gotemplate-oracle/bench.py  (from the repository root)
"""

from __future__ import annotations

import re
import time
from typing import Any

from generators.templating.gotemplate import compile_template

PARAMS: dict[str, Any] = {
    "name": "guestbook",
    "path": {"path": "apps/guestbook", "basename": "guestbook", "segments": ["apps", "guestbook"]},
    "server": "https://kubernetes.default.svc",
    "metadata": {"labels": {"env": "prod", "tier": "web"}},
    "replicas": 3,
}

GO_FIELDS = [
    "{{.name}}-{{.path.basename}}",
    '{{index .metadata.labels "env"}}',
    "{{.server}}",
    "{{.path.path}}",
    "default",
    "{{.name}}",
]
GENERAL = [
    '{{ .name | upper }}-{{ default "main" .rev }}',
    '{{ if eq .metadata.labels.env "prod" }}p{{ else }}np{{ end }}-{{ .replicas }}',
    "{{ range $i, $s := .path.segments }}{{ if $i }}/{{ end }}{{ $s }}{{ end }}",
]
PLAIN = ["{{name}}-{{path.basename}}", "{{env}}", "{{server}}", "{{path}}", "default", "{{name}}"]
FLAT = {
    "name": "guestbook",
    "path.basename": "guestbook",
    "env": "prod",
    "server": "s",
    "path": "p",
}
_TAG = re.compile(r"{{([^{}]*)}}")


def plain_replace(tpl: str, params: dict[str, str]) -> str:
    """What the default (non-Go) mode does: literal `{{key}}` substitution."""

    def sub(m: re.Match[str]) -> str:
        v = params.get(m.group(1).strip())
        return v if isinstance(v, str) else m.group(0)

    return _TAG.sub(sub, tpl) if "{{" in tpl else tpl


def bench(label: str, fn: Any, n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    us = (time.perf_counter() - t0) / n * 1e6
    print(f"{label:<46} {us:8.2f} us")
    return us


def main() -> None:
    n = 50_000
    tpls = [compile_template(s, name=f"f{i}") for i, s in enumerate(GO_FIELDS)]
    gen = [compile_template(s) for s in GENERAL]
    bench("goTemplate: 6 fast-path fields (per app)", lambda: [t.execute(PARAMS) for t in tpls], n)
    bench(
        "default mode: 6 plain fields (per app)", lambda: [plain_replace(s, FLAT) for s in PLAIN], n
    )
    bench(
        "compile_template cache hit x6",
        lambda: [compile_template(s, name=f"f{i}") for i, s in enumerate(GO_FIELDS)],
        n,
    )
    for s, t in zip(GENERAL, gen, strict=True):
        bench(f"general: {s[:38]}", lambda t=t: t.execute(PARAMS), n // 5)


if __name__ == "__main__":
    main()
