"""Sprig's date functions with Go's reference-time layouts (`2006-01-02 15:04:05`)."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

from ..errors import FuncError
from ..funcspec import Kind, register
from ..values import Int64

_UTC = dt.UTC


class GoTime:
    """A time.Time; prints like Go's Time.String()."""

    __slots__ = ("t",)

    def __init__(self, t: dt.datetime) -> None:
        self.t = t

    def __str__(self) -> str:
        return go_format(self.t, "2006-01-02 15:04:05.999999999 -0700 MST")

    def go_json(self) -> str:
        return '"' + go_format(self.t, "2006-01-02T15:04:05.999999999Z07:00") + '"'

    def go_fields(self) -> dict[str, Any]:
        return {}


_MONTHS = [
    "January", "February", "March", "April", "May", "June", "July",
    "August", "September", "October", "November", "December",
]  # fmt: skip
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]

# Longest first, so "January" wins over "Jan" and "2006" over "2".
_TOKENS = [
    "January", "Monday", "Z07:00:00", "-07:00:00", "Z070000", "-070000", "Z07:00", "-07:00",
    "Z0700", "-0700", "2006", "__2", "002", "Jan", "Mon", "MST", "Z07", "-07", "_2", "01",
    "02", "03", "04", "05", "06", "15", "PM", "pm", "1", "2", "3", "4", "5",
]  # fmt: skip


def _offset(t: dt.datetime, z: bool, colon: bool, secs: bool, short: bool) -> str:
    off = t.utcoffset() or dt.timedelta(0)
    total = int(off.total_seconds())
    if z and total == 0:
        return "Z"
    sign = "-" if total < 0 else "+"
    total = abs(total)
    h, m, s = total // 3600, total // 60 % 60, total % 60
    if short:
        return f"{sign}{h:02d}"
    sep = ":" if colon else ""
    out = f"{sign}{h:02d}{sep}{m:02d}"
    if secs:
        out += f"{sep}{s:02d}"
    return out


def go_format(t: dt.datetime, layout: str) -> str:
    """time.Format for the layout elements Sprig users write."""
    out: list[str] = []
    i = 0
    n = len(layout)
    while i < n:
        if layout[i] in ".," and i + 1 < n and layout[i + 1] in "09":
            d = layout[i + 1]
            j = i + 1
            while j < n and layout[j] == d:
                j += 1
            if j >= n or not layout[j].isdigit():
                digits = f"{t.microsecond:06d}000"[: j - i - 1]
                if d == "9":
                    digits = digits.rstrip("0")
                    out.append(layout[i] + digits if digits else "")
                else:
                    out.append(layout[i] + digits)
                i = j
                continue
        for tok in _TOKENS:
            if layout.startswith(tok, i):
                out.append(_element(t, tok))
                i += len(tok)
                break
        else:
            out.append(layout[i])
            i += 1
    return "".join(out)


def _element(t: dt.datetime, tok: str) -> str:
    h12 = t.hour % 12 or 12
    simple = {
        "January": _MONTHS[t.month - 1],
        "Jan": _MONTHS[t.month - 1][:3],
        "Monday": _DAYS[t.weekday()],
        "Mon": _DAYS[t.weekday()][:3],
        "2006": f"{t.year:04d}",
        "06": f"{t.year % 100:02d}",
        "01": f"{t.month:02d}",
        "1": str(t.month),
        "02": f"{t.day:02d}",
        "2": str(t.day),
        "_2": f"{t.day:2d}",
        "__2": f"{t.timetuple().tm_yday:3d}",
        "002": f"{t.timetuple().tm_yday:03d}",
        "15": f"{t.hour:02d}",
        "03": f"{h12:02d}",
        "3": str(h12),
        "04": f"{t.minute:02d}",
        "4": str(t.minute),
        "05": f"{t.second:02d}",
        "5": str(t.second),
        "PM": "PM" if t.hour >= 12 else "AM",
        "pm": "pm" if t.hour >= 12 else "am",
        "MST": t.tzname() or _offset(t, False, False, False, True),
    }
    if tok in simple:
        return simple[tok]
    z = tok.startswith("Z")
    body = tok[1:]
    digits = body.replace(":", "")
    return _offset(t, z, ":" in body, len(digits) == 6, len(digits) == 2)


def _zone(name: str) -> dt.tzinfo:
    if name in ("", "UTC"):
        return _UTC
    if name == "Local":
        return _UTC
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return _UTC


def _to_time(d: Any) -> dt.datetime:
    if isinstance(d, GoTime):
        return d.t
    if type(d) in (int, Int64):
        return dt.datetime.fromtimestamp(int(d), _UTC)
    return dt.datetime.now(_UTC)


@register(("dateInZone", "date_in_zone"), Kind.STR, Kind.ANY, Kind.STR)
def date_in_zone(fmt: str, d: Any, zone: str) -> str:
    return go_format(_to_time(d).astimezone(_zone(zone)), fmt)


register("date", Kind.STR, Kind.ANY)(lambda fmt, d: date_in_zone(fmt, d, "Local"))
register("htmlDate", Kind.ANY)(lambda d: date_in_zone("2006-01-02", d, "Local"))
register("htmlDateInZone", Kind.ANY, Kind.STR)(lambda d, z: date_in_zone("2006-01-02", d, z))
register("now")(lambda: GoTime(dt.datetime.now(_UTC)))
register("unixEpoch", Kind.ANY)(lambda d: str(int(_to_time(d).timestamp())))


def _parse(fmt: str, s: str) -> GoTime:
    py = (
        fmt.replace("2006", "%Y")
        .replace("01", "%m")
        .replace("02", "%d")
        .replace("15", "%H")
        .replace("04", "%M")
        .replace("05", "%S")
    )
    try:
        t = dt.datetime.strptime(s, py)
    except ValueError as exc:
        raise FuncError(f'parsing time "{s}" as "{fmt}": cannot parse') from exc
    return GoTime(t.replace(tzinfo=_UTC))


register("mustToDate", Kind.STR, Kind.STR)(_parse)


@register("toDate", Kind.STR, Kind.STR)
def to_date(fmt: str, s: str) -> GoTime:
    try:
        return _parse(fmt, s)
    except FuncError:
        return GoTime(dt.datetime(1, 1, 1, tzinfo=_UTC))
