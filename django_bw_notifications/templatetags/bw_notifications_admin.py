"""Template tags for the notification admin.

``bw_status_tone`` and ``bw_processing_tone`` colour badges the way the admin's list
does. ``bw_date_hierarchy`` replaces the admin's ``date_hierarchy`` tag, which asks the
database for every year, month or day that has rows (a full scan of a large table on
each page load). This one reads only the first and last ``received_at`` (two index
probes) and lists the months of a year and the days of a month from the calendar.
"""

from __future__ import annotations

import calendar
import datetime
from typing import Any

from django import template
from django.contrib.admin.views.main import ChangeList
from django.db.models import Max, Min
from django.utils import formats, timezone
from django.utils.text import capfirst

from ..admin.badges import processing_tone
from ..catalog import status_tone

register = template.Library()

#: ``{{ notification.status|bw_status_tone }}``: the status's colour class suffix.
register.filter("bw_status_tone", status_tone)
#: ``{{ notification.processing_state|bw_processing_tone }}``.
register.filter("bw_processing_tone", processing_tone)


@register.inclusion_tag("admin/date_hierarchy.html")
def bw_date_hierarchy(cl: ChangeList) -> dict[str, Any]:
    """Year, month and day links for ``cl.date_hierarchy`` without scanning the table."""
    field = cl.date_hierarchy
    names = {level: f"{field}__{level}" for level in ("year", "month", "day")}
    year, month, day = (_int(cl.params.get(names[level])) for level in ("year", "month", "day"))

    def link(**levels: int) -> str:
        return str(cl.get_query_string({names[k]: v for k, v in levels.items()}, [f"{field}__"]))

    if year and month and day:
        chosen = datetime.date(year, month, day)
        return {
            "show": True,
            "back": {
                "link": link(year=year, month=month),
                "title": capfirst(formats.date_format(chosen, "YEAR_MONTH_FORMAT")),
            },
            "choices": [{"title": capfirst(formats.date_format(chosen, "MONTH_DAY_FORMAT"))}],
        }
    if year and month:
        days = calendar.monthrange(year, month)[1]
        return {
            "show": True,
            "back": {"link": link(year=year), "title": str(year)},
            "choices": [
                {
                    "link": link(year=year, month=month, day=number),
                    "title": capfirst(
                        formats.date_format(datetime.date(year, month, number), "MONTH_DAY_FORMAT")
                    ),
                }
                for number in range(1, days + 1)
            ],
        }
    if year:
        return {
            "show": True,
            "back": {"link": link(), "title": "All dates"},
            "choices": [
                {
                    "link": link(year=year, month=number),
                    "title": capfirst(
                        formats.date_format(datetime.date(year, number, 1), "YEAR_MONTH_FORMAT")
                    ),
                }
                for number in range(1, 13)
            ],
        }
    # The whole table's first and last rows: index probes, whatever the filters.
    bounds = cl.model._default_manager.aggregate(first=Min(field), last=Max(field))
    if bounds["first"] is None:
        return {"show": False}
    first, last = (_local(bounds[k]).year for k in ("first", "last"))
    return {
        "show": True,
        "back": None,
        "choices": [
            {"link": link(year=number), "title": str(number)} for number in range(first, last + 1)
        ],
    }


def _local(moment: datetime.datetime) -> datetime.datetime:
    return timezone.localtime(moment) if timezone.is_aware(moment) else moment


def _int(value: Any) -> int | None:
    # cl.params holds a list per key on Django 5.0+; a bad value shows the top level.
    if isinstance(value, list):
        value = value[-1] if value else None
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None
