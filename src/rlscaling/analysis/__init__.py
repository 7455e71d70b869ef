"""Per-item records to the study's tables: aggregation, seed-mean views, RL gains and the seed's findings."""
