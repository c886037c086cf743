"""Shapes shared by several resources: kinds, statuses, example identifiers."""

from __future__ import annotations

from typing import Literal

__all__ = ["EXAMPLE_IMEI", "EXAMPLE_IMEI_2", "MAX_INT64", "KindName", "ReportKindName", "StatusName"]

#: Device statuses (3GPP TS 29.511 EquipmentStatus).
StatusName = Literal["WHITELISTED", "GREYLISTED", "BLACKLISTED"]
#: Every record kind.
KindName = Literal["STOLEN", "LOST", "RECOVERED", "DUPLICATED", "INVALID", "WITHDRAWN"]
#: Kinds that place an entry (RECOVERED/WITHDRAWN clear one).
ReportKindName = Literal["STOLEN", "LOST", "DUPLICATED", "INVALID"]

#: Upper bound of integer query parameters stored as BIGINT (seq, cursor): larger ones are a 422.
MAX_INT64 = 2**63 - 1

EXAMPLE_IMEI = "490154203237518"
EXAMPLE_IMEI_2 = "356938035643809"
