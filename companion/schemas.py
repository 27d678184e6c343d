"""Types every domain shares: database ids (`MAX_DB_ID`, `DbId`, `is_db_id`) and UTC times (`UtcDateTime`).

The FastAPI path parameter for ids (`RowId`) is in `companion/api/deps.py`; models live in their domain's
`schemas.py` (knowledge, matching, identity, evaluation) or `assistant/models.py`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, Field

MAX_DB_ID = 2**31 - 1  # the largest id an INTEGER column holds on every supported database


def _assume_utc(value: datetime) -> datetime:
    """Every stored time is UTC, but SQLite hands datetimes back without an offset: say so in the API."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


UtcDateTime = Annotated[datetime, AfterValidator(_assume_utc)]
DbId = Annotated[int, Field(ge=1, le=MAX_DB_ID, description="Database id.")]


def is_db_id(value: int) -> bool:
    """Ids are 32-bit on PostgreSQL; a larger number cannot name a row (and must not reach the driver)."""
    return 0 < value <= MAX_DB_ID
