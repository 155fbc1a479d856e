"""Session-state keys, in one place. Session state holds choices and ids only."""

from __future__ import annotations

DATASET = "dataset_id"
INSTRUMENT = "instrument"
ENDPOINT_KIND = "endpoint_kind"  # "last" | "infusions" | "day"
ENDPOINT_INFUSIONS = "endpoint_infusions"
ENDPOINT_DAY = "endpoint_day"
ENDPOINT_WINDOW = "endpoint_window"
POPULATION = "population"
RESPONSE_PCT = "response_pct"
REMISSION_BELOW = "remission_below"
FILTER_PREFIX = "filter__"
TRAJECTORY_VALUE = "overview_trajectory_value"
TRAJECTORY_BY = "overview_trajectory_by"


def filter_key(column: str) -> str:
    return f"{FILTER_PREFIX}{column}"


# Durability and Statistics pages
DURABILITY_TIME = "durability_time"  # "day" | "infusions"
DURABILITY_BY = "durability_by"
STATS_TIME = "statistics_time"  # "day" | "infusions"
STATS_COVARIATES = "statistics_covariates"
STATS_RANDOM_SLOPE = "statistics_random_slope"
STATS_METHOD = "statistics_method"  # "ML" | "REML"
STATS_PAIRED_BY = "statistics_paired_by"
