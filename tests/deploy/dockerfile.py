"""A small Dockerfile reader for the image tests: instructions grouped into stages.

Enough of the syntax for fleet's own Dockerfile: comments, parser directives, backslash
continuations, `FROM image AS name`, exec (JSON) and shell forms, `--flag=value` options.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Instruction:
    keyword: str
    """Upper case: FROM, RUN, COPY, ..."""
    flags: dict[str, str]
    """`--from=wheel` -> {"from": "wheel"}; a repeated flag (RUN --mount) keeps the last."""
    mounts: list[dict[str, str]]
    """Every RUN --mount=type=...,from=...: one dict each."""
    rest: str
    """The text after the keyword and its flags."""

    def words(self) -> list[str]:
        """The arguments: the JSON array of the exec form, or shell words otherwise."""
        if self.rest.startswith("["):
            parsed = json.loads(self.rest)
            assert isinstance(parsed, list)
            return [str(w) for w in parsed]
        return shlex.split(self.rest)


@dataclass
class Stage:
    image: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]


def _logical_lines(text: str) -> list[str]:
    lines: list[str] = []
    current = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if stripped.startswith("#") or not stripped:
            continue  # comments and blanks, also inside a continued instruction
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        lines.append(current + stripped)
        current = ""
    assert not current, "the Dockerfile ends inside a continued line"
    return lines


def _instruction(line: str) -> Instruction:
    keyword, _, rest = line.partition(" ")
    flags: dict[str, str] = {}
    mounts: list[dict[str, str]] = []
    rest = rest.strip()
    while rest.startswith("--"):
        option, _, rest = rest.partition(" ")
        rest = rest.strip()
        name, _, value = option[2:].partition("=")
        flags[name] = value
        if name == "mount":
            mounts.append(dict(part.split("=", 1) for part in value.split(",")))
    return Instruction(keyword.upper(), flags, mounts, rest)


def _expand(text: str, args: dict[str, str]) -> str:
    """`${NAME}` and `$NAME` replaced by the default of a global ARG (as docker build does
    without --build-arg)."""
    for name, value in args.items():
        text = text.replace("${" + name + "}", value).replace("$" + name, value)
    return text


def parse(path: Path) -> list[Stage]:
    """The stages of the Dockerfile at `path`, in order; base images with the global ARGs'
    defaults substituted."""
    stages: list[Stage] = []
    global_args: dict[str, str] = {}
    for line in _logical_lines(path.read_text()):
        instruction = _instruction(line)
        if instruction.keyword == "FROM":
            words = instruction.words()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            assert len(words) in (1, 3), f"unexpected FROM: {line}"
            stages.append(Stage(_expand(words[0], global_args), name))
            continue
        if instruction.keyword == "ARG" and not stages:
            arg, _, default = instruction.words()[0].partition("=")
            global_args[arg] = default
            continue
        assert stages, f"{instruction.keyword} before the first FROM"
        stages[-1].instructions.append(instruction)
    return stages
