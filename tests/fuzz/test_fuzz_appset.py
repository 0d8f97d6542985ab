"""Fuzz target: the ApplicationSet parser, expansion and both template engines (see README.md).

Property: whatever the input, only fleet's documented errors escape (GeneratorError and its
kinds: InvalidApplicationSetError, TemplateError, LimitExceededError, GitReadError, ...; the CLI's
InputError), never MemoryError, RecursionError, TypeError, KeyError..., and every call returns
within its time budget. The corpus (tests/fuzz/corpus plus Argo CD's documented examples in
tests/fixtures/argocd_docs) is replayed on every run and is the base the generator mutates.

FLEET_FUZZ_SECONDS (default 12) bounds each generating target's run; set it higher to fuzz
longer by hand, e.g. `FLEET_FUZZ_SECONDS=600 pytest tests/fuzz -x`.
"""

from __future__ import annotations

import contextlib
import copy
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fleet.appset_render import InputError, render_applications
from generators.base import Cluster, Environment
from generators.errors import GeneratorError, InvalidApplicationSetError
from generators.expand import expand
from generators.limits import ExpansionLimits
from generators.model import parse_application_set
from generators.repos import LocalRepoResolver
from generators.templating.fasttemplate import FastTemplateEngine
from generators.templating.gotemplate import compile_template
from generators.yamlio import load_all

HERE = Path(__file__).parent
CORPUS = sorted((HERE / "corpus").glob("*.yaml")) + sorted(
    (HERE.parent / "fixtures" / "argocd_docs").glob("*/appset.yaml")
)
SECONDS = float(os.environ.get("FLEET_FUZZ_SECONDS", "12"))
LIMITS = ExpansionLimits(timeout=2.0)
GRACE = 10.0
"""Seconds past its deadline a call may take to notice it (checks are cooperative); generous
so that a loaded CI machine does not fail, tight enough to catch an unbounded call."""
REPO_URL = "https://git.example/repo.git"
CLUSTERS = [
    Cluster(name="c1", server="https://c1.example", labels={"env": "prod", "tier": "web"}),
    Cluster(name="c2", server="https://c2.example", labels={"env": "dev"}),
]


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A plain folder standing in for REPO_URL: directories and parameter files."""
    root = tmp_path_factory.mktemp("fuzz-repo")
    for name in ("apps/guestbook", "apps/web", "cluster-config/a", "cluster-config/b"):
        (root / name).mkdir(parents=True)
        (root / name / "config.json").write_text(
            '{"cluster": {"name": "c1", "address": "https://c1.example"}, "n": 1}'
        )
    (root / "apps" / "params.yaml").write_text("- name: x\n  size: 2\n- name: y\n")
    return root


def documents(path: Path) -> list[Any]:
    try:
        return load_all(path.read_text(encoding="utf-8"))
    except yaml.YAMLError:
        return []


def seeds() -> list[Any]:
    out: list[Any] = []
    for path in CORPUS:
        out.extend(d for d in documents(path) if isinstance(d, dict))
    return out


SEEDS = seeds()


def within_budget(call: Callable[[], Any], budget: float) -> Any:
    """Run `call`; only documented errors may escape, and it must end within its budget."""
    start = time.monotonic()
    try:
        return call()
    except GeneratorError:
        return None
    finally:
        elapsed = time.monotonic() - start
        assert elapsed < budget + GRACE, f"took {elapsed:.1f}s, budget {budget:g}s"


def expand_document(document: Any, repo: Path) -> None:
    resolver = LocalRepoResolver({REPO_URL: str(repo)})
    env = Environment(clusters=CLUSTERS, repos=resolver)
    try:
        appset = parse_application_set(document)
        expansion = expand(appset, env, LIMITS)
        assert all(isinstance(e, GeneratorError) for e in expansion.errors)
    finally:
        resolver.close()


# -- corpus replay --------------------------------------------------------------------------


@pytest.mark.parametrize("path", CORPUS, ids=[f"{p.parent.name}/{p.name}" for p in CORPUS])
def test_corpus_document_renders_or_fails_with_a_documented_error(path: Path, repo: Path) -> None:
    def render() -> None:
        with contextlib.suppress(InputError):
            render_applications(str(path), repos={REPO_URL: str(repo)}, limits=LIMITS)

    within_budget(render, LIMITS.timeout)


# -- generation -----------------------------------------------------------------------------

WORDS = [
    "print", "printf", "cat", "join", "list", "dict", "concat", "append", "repeat", "until",
    "seq", "toJson", "toYaml", "fromJson", "fromYaml", "fromYamlArray", "b64enc", "indent",
    "nindent", "replace", "regexMatch", "regexFind", "regexFindAll", "regexReplaceAll",
    "regexSplit", "splitList", "uniq", "sortAlpha", "set", "get", "index", "len", "slice",
    "default", "quote", "upper", "trunc", "substr", "normalize", "slugify", "semverCompare",
    "deepCopy", "merge", "keys", "has", "eq", "and", "or", "not", "tpl", "include",
]  # fmt: skip
ATOMS = [
    "$s", "$l", "$d", ".", ".name", ".values", ".path.segments", ".missing.deep", "$",
    '"x"', '"a\\nb"', '"^(a+)+$"', '"(a)\\\\1"', '"(?=x)"', '"[["', '"%9999999s"', '"%v"',
    '"a: &a [1]\\nb: *a"', '"[1,[2]]"', "1", "-1", "0", "1000000", "3.5", "true", "nil",
    "(list 1 2)", "(dict \"k\" 1)", "(until 5)", "(repeat 1000 \"ab\")",
]  # fmt: skip
STRUCTURE = [
    "{{ range $i := until 30 }}", "{{ range . }}", "{{ if . }}", "{{ with $s }}", "{{ else }}",
    "{{ end }}", "{{ break }}", "{{ continue }}", '{{ define "t" }}', '{{ template "t" . }}',
    "{{ $s := ", "{{ $s = ", "{{ $l = ", "{{ $d = ", "{{ ", " }}", "{{- ", " -}}", "|", "(",
    ")", "{{/* c */}}",
]  # fmt: skip

template_token = st.one_of(
    st.sampled_from(WORDS),
    st.sampled_from(ATOMS),
    st.sampled_from(STRUCTURE),
    st.text(max_size=8),
)
go_templates = st.builds(
    lambda head, tokens: head + " ".join(tokens),
    st.sampled_from(['{{ $s := "xy" }}{{ $l := list 1 }}{{ $d := dict }}', ""]),
    st.lists(template_token, max_size=40),
)
fast_templates = st.lists(
    st.one_of(
        st.sampled_from(["{{name}}", "{{ name }}", "{{path[1]}}", "{{", "}}", "{{big}}"]),
        st.text(max_size=6),
    ),
    max_size=30,
).map("".join)
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=10)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=20,
)


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every position in a document (the root excluded)."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield (*prefix, key)
            yield from paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield (*prefix, index)
            yield from paths(value, (*prefix, index))


def replace_at(document: Any, path: tuple[Any, ...], value: Any) -> None:
    node = document
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value


@st.composite
def mutated_documents(draw: st.DrawFn) -> Any:
    """A corpus document with a few positions replaced: templates, JSON values, deletions."""
    document = copy.deepcopy(draw(st.sampled_from(SEEDS)))
    spec = document.get("spec") if isinstance(document, dict) else None
    go = isinstance(spec, dict) and bool(spec.get("goTemplate"))
    for _ in range(draw(st.integers(1, 4))):
        where = list(paths(document))
        if not where:
            break
        path = draw(st.sampled_from(where))
        choice = draw(st.integers(0, 3))
        if choice == 0:
            replace_at(document, path, draw(go_templates if go else fast_templates))
        elif choice == 1:
            replace_at(document, path, draw(json_values))
        elif choice == 2:
            replace_at(document, path, copy.deepcopy(draw(st.sampled_from(SEEDS))))
        else:
            parent = document
            for key in path[:-1]:
                parent = parent[key]
            del parent[path[-1]]
    return document


def run_for(seconds: float, test: Callable[[], None]) -> None:
    """Run the hypothesis `test` batch after batch until `seconds` have passed."""
    stop = time.monotonic() + seconds
    while time.monotonic() < stop:
        test()


FUZZ = settings(
    max_examples=25,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)


def test_fuzz_expansion_of_mutated_documents(repo: Path) -> None:
    @FUZZ
    @given(mutated_documents())
    def check(document: Any) -> None:
        within_budget(lambda: expand_document(document, repo), LIMITS.timeout)

    run_for(SECONDS, check)


def test_fuzz_go_templates() -> None:
    data = {"name": "a", "values": {"k": "v"}, "path": {"segments": ["x", "y"]}}

    @FUZZ
    @given(go_templates, st.sampled_from(["default", "zero", "error"]))
    def check(source: str, missingkey: str) -> None:
        within_budget(
            lambda: compile_template(source, missingkey=missingkey).execute(data),
            LIMITS.timeout,
        )

    run_for(SECONDS, check)


def test_fuzz_default_mode_templates() -> None:
    params = {"name": "a", "path[1]": "p", "big": "x" * 100_000}

    @FUZZ
    @given(fast_templates)
    def check(source: str) -> None:
        def render() -> None:
            rendered = FastTemplateEngine().compile(source, "f")
            if rendered is not None:
                rendered(params)

        within_budget(render, LIMITS.timeout)

    run_for(SECONDS, check)


def test_the_corpus_is_not_empty() -> None:
    assert len(SEEDS) >= 20
    assert any("hostile" in str(d.get("metadata")) for d in SEEDS)


def test_a_document_of_the_wrong_shape_is_an_invalid_application_set() -> None:
    with pytest.raises(InvalidApplicationSetError):
        parse_application_set({"spec": []})
