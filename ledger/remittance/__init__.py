"""Remittances: corridors, rates, quotes, fees, partner liquidity, cost reports."""
