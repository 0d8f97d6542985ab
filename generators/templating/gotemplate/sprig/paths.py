"""Sprig's path functions (Go's `path` package: always forward slashes)."""

from __future__ import annotations

from ..funcspec import Kind, register


def clean(p: str) -> str:
    """path.Clean: lexical, and unlike posixpath it collapses a leading `//`."""
    if p == "":
        return "."
    rooted = p.startswith("/")
    parts: list[str] = []
    for seg in p.split("/"):
        if seg in ("", "."):
            continue
        if seg == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            elif not rooted:
                parts.append("..")
            continue
        parts.append(seg)
    out = "/".join(parts)
    if rooted:
        return "/" + out
    return out or "."


def base(p: str) -> str:
    if p == "":
        return "."
    p = p.rstrip("/")
    if p == "":
        return "/"
    return p[p.rfind("/") + 1 :]


def dirname(p: str) -> str:
    return clean(p[: p.rfind("/") + 1])


def ext(p: str) -> str:
    i = len(p) - 1
    while i >= 0 and p[i] != "/":
        if p[i] == ".":
            return p[i:]
        i -= 1
    return ""


register(("base", "osBase"), Kind.STR)(base)
register(("dir", "osDir"), Kind.STR)(dirname)
register(("clean", "osClean"), Kind.STR)(clean)
register(("ext", "osExt"), Kind.STR)(ext)
register(("isAbs", "osIsAbs"), Kind.STR)(lambda p: p.startswith("/"))
