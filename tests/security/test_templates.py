"""Hostile ApplicationSet templates and generators: regular expressions, allocation bombs, size
and time limits, in the library, the `fleet appset render` CLI and the running controller.

Attacks that froze or killed the process before the fix run in a subprocess with a bound, so a
regression fails the test instead of hanging the suite (a backtracking `re` holds the GIL: no
in-process timeout can fire).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import pytest
import yaml

from fleet.api.project import parse_project
from fleet.render.globs import glob_match
from generators.base import Environment
from generators.errors import GeneratorError, LimitExceededError
from generators.expand import Expansion, expand
from generators.limits import ExpansionLimits
from generators.model import parse_application_set
from generators.pathmatch import git_pathspec_match, go_path_match
from generators.templating.gotemplate import GoTemplateError, compile_template

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]
FLEET = Path(sys.executable).parent / "fleet"
BOUND = 120.0
"""Seconds a subprocess may take; the fixed code needs well under one."""

REDOS = '{{ if regexMatch "^(a+)+$" "' + "a" * 40 + 'b" }}x{{ end }}'
"""Python's re needs about 2**40 steps for this; RE2 a few dozen."""


def appset_doc(
    template_field: str,
    *,
    go: bool = True,
    elements: list[dict[str, Any]] | None = None,
    name: str = "hostile",
) -> dict[str, Any]:
    """A list ApplicationSet whose `spec.source.path` is `template_field`."""
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "ApplicationSet",
        "metadata": {"name": name, "namespace": "argocd"},
        "spec": {
            "goTemplate": go,
            "generators": [{"list": {"elements": elements or [{"name": "a"}]}}],
            "template": {
                "metadata": {"name": "{{ .name }}" if go else "{{name}}"},
                "spec": {
                    "project": "default",
                    "source": {"repoURL": "https://git.example/r.git", "path": template_field},
                    "destination": {"server": "https://kubernetes.default.svc", "namespace": "d"},
                },
            },
        },
    }


def expand_doc(doc: dict[str, Any], limits: ExpansionLimits | None = None) -> Expansion:
    appset = parse_application_set(doc)
    if limits is None:
        return expand(appset, Environment())
    return expand(appset, Environment(), limits)


def only_limit_error(expansion: Expansion) -> LimitExceededError:
    assert not expansion.complete
    assert not expansion.applications
    assert len(expansion.errors) == 1, expansion.errors
    error = expansion.errors[0]
    assert isinstance(error, LimitExceededError), repr(error)
    return error


def run_bounded(code: str) -> subprocess.CompletedProcess[str]:
    """Run Python `code` in a fresh interpreter; fail (not hang) past BOUND seconds."""
    try:
        return subprocess.run(
            [sys.executable, "-c", textwrap.dedent(code)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=BOUND,
            check=True,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"still running after {BOUND:g}s: the pattern backtracks")


# -- regular expressions -----------------------------------------------------------------------


async def test_a_catastrophic_template_regex_finishes_in_linear_time(tmp_path: Path) -> None:
    path = tmp_path / "appset.yaml"
    path.write_text(yaml.safe_dump(appset_doc("guestbook" + REDOS)))
    done = subprocess.run(
        [str(FLEET), "appset", "render", str(path), "-o", "json"],
        capture_output=True,
        text=True,
        timeout=BOUND,
    )
    assert done.returncode == 0, done.stderr
    assert '"path": "guestbook"' in done.stdout


async def test_a_lookahead_in_a_template_regex_is_refused() -> None:
    with pytest.raises(GoTemplateError, match="RE2"):
        compile_template('{{ regexFind "a(?=b)" "ab" }}').execute({})


async def test_a_backreference_in_a_template_regex_is_refused() -> None:
    with pytest.raises(GoTemplateError, match=r"invalid escape sequence: \\1"):
        compile_template('{{ regexReplaceAll "(a)\\\\1" "aa" "x" }}').execute({})


async def test_regex_match_with_a_lookahead_answers_false_as_argo_cd() -> None:
    # Sprig's regexMatch ignores the compile error; Python's re would have matched.
    assert compile_template('{{ regexMatch "a(?=b)" "ab" }}').execute({}) == "false"


async def test_a_catastrophic_glob_in_a_git_generator_path_finishes_in_linear_time() -> None:
    pattern = "*a" * 12 + "*b"
    assert go_path_match(pattern, "a" * 5000) is False  # (RE2 in-process; old re: hours)
    assert git_pathspec_match(pattern, "a" * 5000) is False


async def test_a_catastrophic_glob_in_a_directory_include_finishes_in_linear_time() -> None:
    assert glob_match("{*,*}" * 12 + "b", "a" * 2000) is False


async def test_a_catastrophic_project_glob_finishes_in_linear_time() -> None:
    # Run apart: the Project matcher is standard-library code, and a backtracking version
    # would hold the GIL with no way to time it out in-process.
    done = run_bounded(
        """
        from fleet.api.project import parse_project
        project = parse_project({
            "metadata": {"name": "p", "namespace": "fleet"},
            "spec": {
                "sourceRepos": ["https://git.example/" + "{*,*}" * 12 + "x"],
                "destinations": [{"server": "*a*a*a*a*a*a*a*a*a*a*a*a*b", "namespace": "*"}],
            },
        })
        print(project.permits_source("https://git.example/" + "a" * 3000))
        print(project.permits_destination("https://" + "a" * 3000, "", "ns"))
        """
    )
    assert done.stdout.split() == ["False", "False"]


async def test_project_globs_still_match_as_argo_cd() -> None:
    project = parse_project(
        {
            "metadata": {"name": "p", "namespace": "fleet"},
            "spec": {
                "sourceRepos": ["https://github.com/acme/*", "!https://github.com/acme/secret"],
                "destinations": [{"server": "https://{a,b}.example", "namespace": "team-?"}],
                "clusterResourceWhitelist": [{"group": "*", "kind": "Name[sS]pace"}],
            },
        }
    )
    assert project.permits_source("https://github.com/acme/app.git")
    assert not project.permits_source("https://github.com/acme/secret")
    assert project.permits_destination("https://b.example", "", "team-1")
    assert not project.permits_destination("https://c.example", "", "team-1")
    assert project.permits_kind("", "Namespace", namespaced=False)


# -- allocation bombs: each refused with a LimitExceededError, never MemoryError ---------------

DOUBLE = '{{ $s := "x" }}' + "{{ $s = print $s $s }}" * 40 + "{{ len $s }}"
LAUGHS = "\n".join(
    ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    + [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    + ["top: *a8"]
)

BOMBS = {
    "print-doubling": DOUBLE,
    "cat-in-a-loop": '{{ $s := "xxxxxxxx" }}{{ range until 60 }}{{ $s = cat $s $s }}{{ end }}',
    "concat-in-a-loop": "{{ $l := list 1 2 }}{{ range until 60 }}{{ $l = concat $l $l }}{{ end }}",
    "list-of-itself": (
        "{{ $l := list 1 }}{{ range until 60 }}{{ $l = list $l $l }}{{ end }}{{ toJson $l }}"
    ),
    "print-of-a-shared-list": (
        "{{ $l := list 1 }}{{ range until 60 }}{{ $l = list $l $l }}{{ end }}{{ $l }}"
    ),
    "join-of-repeats": (
        '{{ $l := list }}{{ range until 2000 }}{{ $l = append $l (repeat 100000 "x") }}'
        '{{ end }}{{ join "," $l }}'
    ),
    "b64enc-doubling": (
        '{{ $s := "x" }}{{ range until 60 }}{{ $s = b64enc (print $s $s) }}{{ end }}'
    ),
    "repeat-accumulated": (
        '{{ $l := list }}{{ range until 10000 }}{{ $l = append $l (repeat 1000000 "x") }}{{ end }}'
    ),
    "repeat-huge": '{{ repeat 1000000000 "x" }}',
    "until-in-a-loop": "{{ range until 1000 }}{{ $l := until 1000000 }}{{ end }}",
    "seq-huge": "{{ seq 100000000 }}",
    "dict-in-a-loop": (
        "{{ $d := dict }}{{ range $i := until 100000 }}"
        '{{ $_ := set $d (print $i) (repeat 100000 "x") }}{{ end }}'
    ),
    "tojson-in-a-loop": (
        '{{ $l := list (repeat 900000 "x") }}{{ range until 100000 }}{{ $j := toJson $l }}{{ end }}'
    ),
    "indent-huge": '{{ indent 100000000 "a\\nb" }}',
    "nindent-in-a-loop": '{{ range until 100000 }}{{ $x := nindent 900000 "a" }}{{ end }}',
    "replace-doubling": (
        '{{ $s := "ab" }}{{ range until 60 }}{{ $s = replace "a" "aa" $s }}{{ end }}'
    ),
    "printf-width": '{{ printf "%9999999s" "x" }}',
    "printf-width-in-a-loop": (
        '{{ range until 100000 }}{{ $x := printf "%999999s" "x" }}{{ end }}'
    ),
    "fromYaml-billion-laughs": "{{ fromYaml .laughs | toJson }}",
    "fromYamlArray-billion-laughs": "{{ fromYamlArray .laughs_array | len }}",
    "fromJson-in-a-loop": (
        '{{ $j := print "[" (repeat 200000 "[],") "[]]" }}'
        "{{ range until 100000 }}{{ $x := fromJson $j }}{{ end }}"
    ),
    "regexFindAll-everything": (
        '{{ $s := repeat 1000000 "x" }}{{ range until 1000 }}'
        '{{ $m := regexFindAll "." $s -1 }}{{ end }}'
    ),
    "splitList-everything": (
        '{{ $s := repeat 1000000 "x" }}{{ range until 1000 }}{{ $m := splitList "" $s }}{{ end }}'
    ),
}
BOMB_DATA = {"laughs": LAUGHS, "laughs_array": "- " + LAUGHS.replace("\n", "\n  ")}


@pytest.mark.parametrize("template", list(BOMBS.values()), ids=list(BOMBS))
async def test_a_template_allocation_bomb_is_refused_with_a_limit_error(template: str) -> None:
    doc = appset_doc(template, elements=[{"name": "a", **BOMB_DATA}])
    error = only_limit_error(expand_doc(doc))
    assert error.field == "spec.template.spec.source.path"
    assert "limit" in str(error)


async def test_yaml_aliases_in_from_yaml_stop_at_the_memory_limit() -> None:
    with pytest.raises(LimitExceededError, match=r"fromYaml.*memory limit"):
        compile_template("{{ fromYaml .laughs | toJson }}").execute(BOMB_DATA)


async def test_a_matrix_product_explosion_is_refused() -> None:
    doc = appset_doc("p", go=False)
    children = [{"list": {"elements": [{f"k{i}": str(n)} for n in range(100)]}} for i in range(4)]
    doc["spec"]["generators"] = [{"matrix": {"generators": children}}]  # 10**8 sets
    error = only_limit_error(expand_doc(doc))
    assert error.limit == "max_parameter_sets"
    assert error.field == "spec.generators[0].matrix"


# -- the rendered Application's size, in both template modes ----------------------------------


@pytest.mark.parametrize("go", [False, True], ids=["default-mode", "goTemplate"])
async def test_a_template_repeating_a_parameter_is_refused_at_the_application_size_limit(
    go: bool,
) -> None:
    tag = "{{ .big }}" if go else "{{big}}"
    doc = appset_doc(tag * 20_000, go=go, elements=[{"name": "a", "big": "x" * 60_000}])
    error = only_limit_error(expand_doc(doc))  # 1 GB if built
    assert error.field == "spec.template.spec.source.path"
    assert "etcd" in str(error) or "limit of" in str(error)


@pytest.mark.parametrize("go", [False, True], ids=["default-mode", "goTemplate"])
async def test_many_fields_adding_up_past_the_application_size_limit_are_refused(
    go: bool,
) -> None:
    tag = "{{ .big }}" if go else "{{big}}"
    doc = appset_doc("p", go=go, elements=[{"name": "a", "big": "x" * 300_000}])
    doc["spec"]["template"]["metadata"]["annotations"] = {f"a{i}": tag for i in range(10)}
    error = only_limit_error(expand_doc(doc))
    assert error.limit == "max_application_bytes"
    assert "etcd" in str(error)


@pytest.mark.parametrize("go", [False, True], ids=["default-mode", "goTemplate"])
async def test_an_application_under_the_size_limit_still_renders(go: bool) -> None:
    tag = "{{ .big }}" if go else "{{big}}"
    doc = appset_doc("p", go=go, elements=[{"name": "a", "big": "x" * 300_000}])
    doc["spec"]["template"]["metadata"]["annotations"] = {"a": tag, "b": tag}
    expansion = expand_doc(doc)
    assert expansion.complete, expansion.errors
    assert len(expansion.applications[0]["metadata"]["annotations"]["a"]) == 300_000


async def test_the_whole_expansion_is_bounded() -> None:
    elements = [{"name": f"a{i}", "big": "x" * 100_000} for i in range(20)]
    doc = appset_doc("{{ .big }}", elements=elements)
    expansion = expand_doc(doc, ExpansionLimits(max_expansion_bytes=1 << 20))
    assert not expansion.complete
    limit_errors = [e for e in expansion.errors if isinstance(e, LimitExceededError)]
    assert [e.limit for e in limit_errors] == ["max_expansion_bytes"]
    assert len(expansion.applications) < 20


# -- time ------------------------------------------------------------------------------------

SLOW = '{{ $s := repeat 1000000 "a" }}{{ range until 100000 }}{{ $h := sha256sum $s }}{{ end }}'
"""About three minutes of hashing within the step limit."""


async def test_a_slow_template_is_stopped_at_the_expansion_deadline() -> None:
    elements = [{"name": f"a{i}"} for i in range(50)]
    doc = appset_doc(SLOW, elements=elements)
    error = only_limit_error(expand_doc(doc, ExpansionLimits(timeout=0.5)))
    assert error.limit == "timeout"
    assert "longer than the limit of 0.5s" in str(error)


async def test_a_slow_default_mode_expansion_is_stopped_at_the_deadline() -> None:
    # No template work at all: many parameter sets, each cheap, past a tiny deadline.
    elements = [{"name": f"a{i}"} for i in range(20_000)]
    doc = appset_doc("p", go=False, elements=elements)
    expansion = expand_doc(doc, ExpansionLimits(timeout=0.0))
    assert not expansion.complete
    assert [e.limit for e in expansion.errors if isinstance(e, LimitExceededError)] == ["timeout"]


# -- the CLI -----------------------------------------------------------------------------------


async def test_fleet_appset_render_reports_a_template_bomb_in_one_line_with_exit_2(
    tmp_path: Path,
) -> None:
    path = tmp_path / "appset.yaml"
    path.write_text(yaml.safe_dump(appset_doc(DOUBLE)))
    done = subprocess.run(
        [str(FLEET), "appset", "render", str(path)],
        capture_output=True,
        text=True,
        timeout=BOUND,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "spec.template.spec.source.path" in lines[0]
    assert "limit" in lines[0]


async def test_fleet_appset_render_reports_an_oversized_application_in_one_line_with_exit_2(
    tmp_path: Path,
) -> None:
    path = tmp_path / "appset.yaml"
    doc = appset_doc("{{big}}" * 20_000, go=False, elements=[{"name": "a", "big": "x" * 60_000}])
    path.write_text(yaml.safe_dump(doc))
    done = subprocess.run(
        [str(FLEET), "appset", "render", str(path)],
        capture_output=True,
        text=True,
        timeout=BOUND,
    )
    assert (done.returncode, done.stdout) == (2, "")
    assert len(done.stderr.strip().splitlines()) == 1
    assert "etcd" in done.stderr


# -- the controller --------------------------------------------------------------------------


async def test_a_hostile_appset_fails_alone_while_its_neighbour_converges_and_healthz_answers(
    tmp_path: Path,
) -> None:
    """ErrorOccurred on the hostile ApplicationSet (naming the field and the limit), nothing
    of it created, its neighbour's Application created, /healthz answering throughout."""
    from fleet.api.resources import APPLICATION_SET
    from fleet.kube import request_json
    from tests.clusters.harness import simulated_env
    from tests.controllers.harness import Scenario, condition

    hostile_path = '{{ $s := repeat 1000000 "a" }}{{ range until 100000 }}' + REDOS
    hostile_path += "{{ $h := sha256sum $s }}{{ end }}"
    async with simulated_env(tmp_path, ["m1"]) as env, Scenario.open(env, tmp_path) as sc:
        hostile = appset_doc(hostile_path, name="hostile")
        good = appset_doc("guestbook", name="good", elements=[{"name": "neighbour"}])
        for doc in (hostile, good):
            doc["apiVersion"] = "fleet.gitops.dev/v1alpha1"
            doc["metadata"]["namespace"] = sc.namespace
        async with sc.controller(appset_limits=ExpansionLimits(timeout=3.0)) as controller:
            await sc.apply_appset(hostile)
            await sc.apply_appset(good)
            answered = 0
            message = ""
            async with aiohttp.ClientSession() as http:
                with anyio.fail_after(90):
                    while True:
                        # Each probe is bounded: a frozen event loop (the regex freeze held it
                        # for minutes) fails here, not later; 15 s leaves room for a loaded machine.
                        with anyio.fail_after(15):
                            async with http.get(
                                f"http://127.0.0.1:{controller.port}/healthz"
                            ) as response:
                                assert response.status == 200
                        answered += 1
                        obj = await request_json(
                            sc.hub, "GET", APPLICATION_SET.item(sc.namespace, "hostile")
                        )
                        message = condition(obj, "ErrorOccurred").get("message", "")
                        if condition(obj, "ErrorOccurred").get("status") == "True":
                            break
                        await anyio.sleep(0.1)
            assert answered >= 2  # /healthz answered while the hostile expansion ran
            assert "longer than the limit of 3s" in message
            assert "spec.template.spec.source.path" in message
            apps = await sc.wait_apps(lambda a: "neighbour" in a, timeout=30)
            assert not any(n.startswith("a") and n != "neighbour" for n in apps)


async def test_every_limit_error_is_a_generator_error() -> None:
    # Callers that must never act on a partial result catch GeneratorError as a whole.
    assert issubclass(LimitExceededError, GeneratorError)


def test_a_generator_template_that_is_not_a_mapping_is_an_error_naming_it() -> None:
    """Found by the fuzz target: it raised AttributeError inside expansion."""
    from generators.expand import expand
    from generators.model import parse_application_set

    doc = yaml.safe_load(
        (
            Path(__file__).parents[1] / "fuzz/corpus/generator-template-not-a-mapping.yaml"
        ).read_text()
    )
    expansion = expand(parse_application_set(doc), Environment())
    assert [str(e) for e in expansion.errors] and "spec.generators[0].list.template" in str(
        expansion.errors[0]
    )
