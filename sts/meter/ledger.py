"""The credit engine's running totals: every joule and money unit in and out.

The totals are what make the wallets auditable. They satisfy, at every moment
(all in joules or money units, exact integers)::

    energy wallet = energy to wallet + export credited (net metering)
                    - energy from wallet - energy cleared
    money wallet  = money to wallet - money debited - money for energy
                    - charges paid - money cleared
    owed energy   = emergency used + friendly debt made
                    - owed repaid by energy tokens - owed repaid by money tokens
    money debt    = charges to debt - money debt repaid
    delivered     = from energy wallet + from money + emergency used + friendly debt made
                    + postpaid (energy billed afterwards, sts.meter.protection)
    energy tokens = energy to wallet + owed repaid by energy tokens
    money tokens  = money to wallet + money debt repaid + money repaying energy
    charges due   = charges paid + charges to debt

:meth:`Ledger.imbalances` checks them against the wallet registers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass(slots=True)
class Ledger:
    """Running totals since the meter was made (joules ``_j``; money in 0.00001 units)."""

    energy_credited_j: int = 0  # from unit tokens, before repayments
    energy_to_wallet_j: int = 0
    owed_repaid_by_energy_j: int = 0
    money_credited: int = 0  # from positive currency tokens, before repayments
    money_debited: int = 0  # by negative currency tokens
    money_to_wallet: int = 0
    money_debt_repaid: int = 0
    money_repaying_energy: int = 0
    owed_repaid_by_money_j: int = 0
    delivered_j: int = 0
    from_energy_j: int = 0
    from_money_j: int = 0
    emergency_j: int = 0
    friendly_debt_j: int = 0
    money_for_energy: int = 0
    charges_due: int = 0
    charges_paid: int = 0
    charges_to_debt: int = 0
    energy_cleared_j: int = 0
    money_cleared: int = 0
    export_credited_j: int = 0  # net metering (sts.meter.metering); 0 when it is off
    postpaid_j: int = 0  # delivered in postpaid mode, drawn from no wallet

    def imbalances(self, energy_j: int, money: int, owed_j: int, money_debt: int) -> list[str]:
        """The identities above that do not hold for these registers (empty: all hold)."""
        checks = {
            "energy wallet": energy_j
            == self.energy_to_wallet_j
            + self.export_credited_j
            - self.from_energy_j
            - self.energy_cleared_j,
            "money wallet": money
            == self.money_to_wallet
            - self.money_debited
            - self.money_for_energy
            - self.charges_paid
            - self.money_cleared,
            "owed energy": owed_j
            == self.emergency_j
            + self.friendly_debt_j
            - self.owed_repaid_by_energy_j
            - self.owed_repaid_by_money_j,
            "money debt": money_debt == self.charges_to_debt - self.money_debt_repaid,
            "delivered": self.delivered_j
            == self.from_energy_j
            + self.from_money_j
            + self.emergency_j
            + self.friendly_debt_j
            + self.postpaid_j,
            "energy tokens": self.energy_credited_j
            == self.energy_to_wallet_j + self.owed_repaid_by_energy_j,
            "money tokens": self.money_credited
            == self.money_to_wallet + self.money_debt_repaid + self.money_repaying_energy,
            "charges": self.charges_due == self.charges_paid + self.charges_to_debt,
        }
        return [name for name, holds in checks.items() if not holds]

    def to_dict(self) -> dict[str, int]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Ledger:
        names = {f.name for f in fields(cls)}
        return cls(**{k: int(v) for k, v in data.items() if k in names})
