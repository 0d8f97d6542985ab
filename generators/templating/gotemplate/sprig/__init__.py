"""Sprig and Argo CD template functions; importing this package registers them all."""

from . import argo, dates, flow, lists, math, paths, regex, semver, strings

__all__ = ["argo", "dates", "flow", "lists", "math", "paths", "regex", "semver", "strings"]
