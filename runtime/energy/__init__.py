"""Energy: power meters, board profiles and the per-agent energy ledger.

- :mod:`runtime.energy.meters`: read what the board measures (:func:`discover_meter`);
- :mod:`runtime.energy.profile`: board power models (:func:`load_profile`);
- :mod:`runtime.energy.ledger`: joules per agent and component (:class:`EnergyLedger`);
- :mod:`runtime.energy.store`: the ledger file and its queries (:class:`LedgerReader`).

docs/energy.md explains how it fits together.
"""

from runtime.energy.errors import (
    EnergyError,
    LedgerError,
    MeterError,
    MeterPermissionError,
    MeterStaleError,
    MeterUnavailableError,
    ProfileError,
)
from runtime.energy.ledger import (
    ALLOCATION_COMPONENTS,
    BYTE_PRICED_COMPONENTS,
    SPENT_COMPONENTS,
    EnergyLedger,
    Span,
    ledger_path,
)
from runtime.energy.meters import PowerMeter, PowerSample, discover_meter
from runtime.energy.profile import BoardProfile, MeterSpec, list_profiles, load_profile
from runtime.energy.store import Entry, LedgerReader

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
