"""The three low-credit alarm levels.

Level ``n`` (1 to 3) is reached when the energy wallet is at or below the
level's kWh threshold *and* the money wallet at or below its money threshold:
a customer with plenty in either wallet is not low on credit. The level shown
is the highest reached, 0 when none is. The engine raises an alarm each time
the level rises past a level (once per crossing); topping up lowers it again,
so the next fall past a threshold raises that alarm again::

    >>> from decimal import Decimal
    >>> from sts.meter.config import AlarmConfig, AlarmThreshold
    >>> alarms = Alarms(AlarmConfig((AlarmThreshold(Decimal(10), Decimal(0)),
    ...                              AlarmThreshold(Decimal(5), Decimal(0)),
    ...                              AlarmThreshold(Decimal(1), Decimal(0)))))
    >>> alarms.level(18_000_000, 0)           # 5 kWh left, no money
    2
    >>> alarms.energy_floor(20_000_000)       # next threshold below 5.56 kWh: 5 kWh
    18000000
"""

from __future__ import annotations

from sts.meter.config import AlarmConfig, AlarmThreshold
from sts.meter.units import kwh_to_j, money_to_units


class Alarms:
    """Alarm thresholds in the engine's integer units."""

    def __init__(self, config: AlarmConfig) -> None:
        self.config = config
        self.thresholds: tuple[tuple[int, int], ...] = tuple(
            (kwh_to_j(t.energy_kwh, "alarm threshold"), money_to_units(t.money, "alarm threshold"))
            for t in config.levels
        )
        self._energy_floors = sorted({e for e, _ in self.thresholds} | {0}, reverse=True)
        self._money_floors = sorted({m for _, m in self.thresholds} | {0}, reverse=True)

    def level(self, energy_j: int, money: int) -> int:
        """The highest alarm level reached by these wallet balances (0: none)."""
        reached = 0
        for index, (energy_max, money_max) in enumerate(self.thresholds, start=1):
            if energy_j <= energy_max and money <= money_max:
                reached = index
        return reached

    def threshold(self, level: int) -> AlarmThreshold:
        return self.config.levels[level - 1]

    def energy_floor(self, energy_j: int) -> int:
        """The highest energy threshold (or 0) strictly below a positive balance."""
        for floor in self._energy_floors:
            if floor < energy_j:
                return floor
        return 0

    def money_floor(self, money: int) -> int:
        """The highest money threshold (or 0) strictly below a positive balance."""
        for floor in self._money_floors:
            if floor < money:
                return floor
        return 0
