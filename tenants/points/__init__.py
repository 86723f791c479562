"""Points 积分 ("一网三联"): earning, the points ledger and its lots, redemption and vouchers, grid scores and grid
workers' performance pay."""
