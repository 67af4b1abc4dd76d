"""``/api/check``: what would keep phones from working, as ``plugtone check`` lists it.

The same service call (``services.phone_checks.check_fleet``): the core's findings (no
line, a pin without a release) and each vendor plug-in's (a key the model cannot show,
a value its file format cannot carry, a zone its firmware cannot express). ``refuse``
marks an error an apply would refuse; the others are warnings.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from plugtone.services.objects import phone_mac
from plugtone.services.phone_checks import check_fleet
from plugtone.web.deps import CallerDep, RegistryDep, StoreDep

router = APIRouter(tags=["check"])


class CheckFinding(BaseModel):
    mac: str
    model: str
    site: str
    message: str
    refuse: bool
    """An error (an apply leaving the phone so is refused), else a warning."""


class CheckReport(BaseModel):
    findings: list[CheckFinding]
    phones: int
    """How many phones have at least one finding."""
    errors: int
    warnings: int


@router.get("/check", response_model=CheckReport,
            summary="What would keep phones from working")  # fmt: skip
def read_check(
    actor: CallerDep, store: StoreDep, registry: RegistryDep,
    mac: Annotated[list[str] | None, Query(description="Only these phones (any notation).")] = None,
) -> CheckReport:  # fmt: skip
    wanted = [phone_mac(text) for text in mac] if mac else None
    findings = check_fleet(store, actor, registry, wanted)
    errors = sum(finding.refuse for finding in findings)
    return CheckReport(
        findings=[
            CheckFinding(mac=f.mac, model=f.model, site=f.site, message=f.message, refuse=f.refuse)
            for f in findings
        ],
        phones=len({finding.mac for finding in findings}),
        errors=errors,
        warnings=len(findings) - errors,
    )
