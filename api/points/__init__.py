"""Points 积分 through GraphQL: earning and reading (earning.py), vouchers (vouchers.py), grids and pay (grids.py),
and the points history exports (exports.py)."""
