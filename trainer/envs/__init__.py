"""Training environments: ``harvest`` (ours) and MPE2 ``simple_spread_v3`` (external)."""
