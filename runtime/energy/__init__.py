"""Energy: power meters, board profiles and the per-agent energy ledger.

- :mod:`otswarm.energy.meters`: read what the board measures (:func:`discover_meter`);
- :mod:`otswarm.energy.profile`: board power models (:func:`load_profile`);
- :mod:`otswarm.energy.ledger`: joules per agent and component (:class:`EnergyLedger`);
- :mod:`otswarm.energy.store`: the ledger file and its queries (:class:`LedgerReader`).

docs/energy.md explains how it fits together.
"""

from otswarm.energy.errors import (
    EnergyError,
    LedgerError,
    MeterError,
    MeterPermissionError,
    MeterStaleError,
    MeterUnavailableError,
    ProfileError,
)
from otswarm.energy.ledger import (
    ALLOCATION_COMPONENTS,
    BYTE_PRICED_COMPONENTS,
    SPENT_COMPONENTS,
    EnergyLedger,
    Span,
    ledger_path,
)
from otswarm.energy.meters import PowerMeter, PowerSample, discover_meter
from otswarm.energy.profile import BoardProfile, MeterSpec, list_profiles, load_profile
from otswarm.energy.store import Entry, LedgerReader

__all__ = [
    "ALLOCATION_COMPONENTS",
    "BYTE_PRICED_COMPONENTS",
    "SPENT_COMPONENTS",
    "BoardProfile",
    "EnergyError",
    "EnergyLedger",
    "Entry",
    "LedgerError",
    "LedgerReader",
    "MeterError",
    "MeterPermissionError",
    "MeterSpec",
    "MeterStaleError",
    "MeterUnavailableError",
    "PowerMeter",
    "PowerSample",
    "ProfileError",
    "Span",
    "discover_meter",
    "ledger_path",
    "list_profiles",
    "load_profile",
]
