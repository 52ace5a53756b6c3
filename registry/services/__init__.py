from .. import versions  # noqa: F401  (its flush hook versions trust and status data for every service)
