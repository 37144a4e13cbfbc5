"""Users' local time: an IANA zone, or UTC (said in the log) when the user has none or a bad one."""

from __future__ import annotations

import datetime as dt
import logging
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

UTC = ZoneInfo("UTC")


def user_zone(timezone: str | None, user_id: int, logger: logging.Logger | logging.LoggerAdapter) -> ZoneInfo:
    """The user's zone; a missing or unknown zone is treated as UTC and logged, never skipped."""
    if not timezone:
        logger.warning("user %s has no timezone: treating it as UTC", user_id)
        return UTC
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        logger.warning("user %s has an unknown timezone %r: treating it as UTC", user_id, timezone)
        return UTC


def local_date(now: dt.datetime, timezone: str | None, user_id: int,
               logger: logging.Logger | logging.LoggerAdapter) -> dt.date:
    """The user's date at the instant `now` (UTC when the user has no zone or a bad one)."""
    return now.astimezone(user_zone(timezone, user_id, logger)).date()
