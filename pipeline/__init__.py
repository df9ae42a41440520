"""Pure stages from raw message bytes to classified items and derived files.

Nothing in this package opens a socket or a database session; callers pass in
what a stage needs (the unit directory, learned sender addresses, config).
"""
