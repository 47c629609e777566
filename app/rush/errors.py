"""Why the rush queue refused something; ``code`` is stable and shown to clients.

.. code-block:: text

    RushError                 rush-error
     ├── AdmissionRequired    admission-required   no admission given for a rush service
     │    ├── AdmissionInvalid  admission-invalid  forged, or for another service
     │    └── AdmissionExpired  admission-expired  the window to book has passed
     ├── AdmissionUsed        admission-used       this admission already booked
     ├── FullyBooked          fully-booked         no free time left in the horizon
     ├── QueueNotOpen         queue-not-open       before the service's opening time
     └── NotRush              not-rush             the service has no queue
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar


class RushError(Exception):
    code: ClassVar[str] = "rush-error"

    def __init__(self, service_id: int, detail: str = "") -> None:
        super().__init__(detail or self.code)
        self.service_id = service_id


class AdmissionRequired(RushError):
    code: ClassVar[str] = "admission-required"


class AdmissionInvalid(AdmissionRequired):
    code: ClassVar[str] = "admission-invalid"


class AdmissionExpired(AdmissionRequired):
    code: ClassVar[str] = "admission-expired"


class AdmissionUsed(RushError):
    code: ClassVar[str] = "admission-used"


class FullyBooked(RushError):
    code: ClassVar[str] = "fully-booked"


class QueueNotOpen(RushError):
    code: ClassVar[str] = "queue-not-open"

    def __init__(self, service_id: int, opens_at: datetime) -> None:
        super().__init__(service_id, f"opens at {opens_at.isoformat()}")
        self.opens_at = opens_at


class NotRush(RushError):
    code: ClassVar[str] = "not-rush"
