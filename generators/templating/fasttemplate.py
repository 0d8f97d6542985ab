"""Argo CD's default template mode: literal `{{key}}` substitution (valyala/fasttemplate).

It is not Jinja and not Go: the tag between `{{` and `}}` is trimmed of spaces and looked up as a
literal key (`{{ path[1] }}` is the parameter named `path[1]`); a missing key, or a value that is
not a string, leaves the tag exactly as written. A string without `{{...}}` on one line is not
parsed at all; an unclosed `{{` in a templated string is an error, as in Argo CD.
"""

from __future__ import annotations

from generators import limits
from generators.errors import TemplateError
from generators.safe_regex import compile_linear
from generators.templating import Params, StringRender

# Argo CD only templates strings matching `.*{{.*}}.*`, where `.` stops at a newline. With
# Python's re this search is quadratic on a long line of `{{` without `}}`; RE2 is linear.
_IS_TEMPLATED = compile_linear(r"\{\{[^\n]*\}\}")


class FastTemplateEngine:
    """Stateless; compiled strings are cached by the tree compiler."""

    def compile(self, source: str, field: str) -> StringRender | None:
        if "{{" not in source or not _IS_TEMPLATED.search(source):
            return None
        texts, tags = _split(source, field)
        head = texts[0]
        items = tuple((tag, tag.strip(), text) for tag, text in zip(tags, texts[1:], strict=True))
        if len(items) == 1 and not head and not items[0][2]:
            tag, key, _ = items[0]
            return _single_tag(tag, key)

        def render(params: Params) -> str:
            # Sized before joining: a 1 MB template repeating a large parameter would
            # otherwise build a gigabyte string in one join.
            limit = _field_limit()
            out = [head]
            size = len(head)
            for tag, key, text in items:
                value = params.get(key) if key else None
                piece = value if type(value) is str else "{{" + tag + "}}"
                size += len(piece) + len(text)
                if size > limit:
                    raise limits.application_size_error(limit, field)
                out.append(piece)
                out.append(text)
            return "".join(out)

        return render


def _field_limit() -> int:
    """No one field may render larger than a whole Application may be."""
    budget = limits.current()
    return (budget.limits if budget is not None else limits.DEFAULT_LIMITS).max_application_bytes


def _single_tag(tag: str, key: str) -> StringRender:
    """The commonest template, `{{name}}` alone, without building a list."""
    as_written = "{{" + tag + "}}"

    def render(params: Params) -> str:
        value = params.get(key) if key else None
        return value if type(value) is str else as_written

    return render


def _split(source: str, field: str) -> tuple[list[str], list[str]]:
    """Texts and tags, scanning by index (slicing off the rest each time is quadratic)."""
    texts: list[str] = []
    tags: list[str] = []
    pos = 0
    while True:
        start = source.find("{{", pos)
        if start < 0:
            texts.append(source[pos:])
            return texts, tags
        texts.append(source[pos:start])
        end = source.find("}}", start + 2)
        if end < 0:
            rest = source[start + 2 :]
            raise TemplateError(
                f"invalid template {_clip(source)!r}: cannot find end tag '}}}}' after "
                f"{_clip(rest)!r}",
                field=field,
            )
        tags.append(source[start + 2 : end])
        pos = end + 2


def _clip(text: str) -> str:
    """Error messages quote the template: at most its first 200 characters."""
    return text if len(text) <= 200 else text[:200] + "..."
