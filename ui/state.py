"""Session-state keys, in one place. Session state holds choices and ids only."""

from __future__ import annotations

DATASET = "dataset"
PENDING_DATASET = "pending_dataset_id"  # set by a page; the sidebar selects it on its next run
SIGNED_IN_RECORDED = "signed_in_recorded"  # the sign-in is in the audit log
VIEWS_RECORDED = "views_recorded"  # (dataset, page) pairs already in the audit log
INSTRUMENT = "instrument"
ENDPOINT_KIND = "endpoint"  # "last" | "infusions" | "day"
ENDPOINT_INFUSIONS = "endpoint_n"
ENDPOINT_DAY = "endpoint_day"
ENDPOINT_WINDOW = "endpoint_window"
POPULATION = "population"
RESPONSE_PCT = "response_pct"
REMISSION_BELOW = "remission_below"
FILTER_PREFIX = "f."
TRAJECTORY_VALUE = "show"
TRAJECTORY_BY = "split"


def filter_key(column: str) -> str:
    return f"{FILTER_PREFIX}{column}"


# Data page
UPLOAD = "data_upload"
UPLOAD_SHEET = "data_upload_sheet"
UPLOAD_PROFILE_FILE = "data_upload_profile_file"
UPLOAD_BEFORE_INFUSION = "data_before_infusion"
UPLOAD_DAYFIRST = "data_dayfirst"
UPLOAD_NAME = "data_dataset_name"
UPLOAD_PROFILE_NAME = "data_profile_name"
UPLOAD_SAVED = "data_last_saved"
REPORT_SEVERITY = "data_report_severity"
IDENTIFIER_PREFIX = "data_identifier__"
MANAGE_RENAME_PREFIX = "data_rename__"
MANAGE_DELETE_PREFIX = "data_delete_confirm__"


def mapping_key(file_id: str, sheet: str | None) -> str:
    return f"data_mapping__{file_id}__{sheet or ''}"


def labels_key(file_id: str, sheet: str | None) -> str:
    return f"data_labels__{file_id}__{sheet or ''}"


# Durability and Statistics pages
DURABILITY_TIME = "durability_time"  # "day" | "infusions"
DURABILITY_BY = "durability_by"
STATS_TIME = "statistics_time"  # "day" | "infusions"
STATS_COVARIATES = "statistics_covariates"
STATS_RANDOM_SLOPE = "statistics_random_slope"
STATS_METHOD = "statistics_method"  # "ML" | "REML"
STATS_PAIRED_BY = "statistics_paired_by"


# Trajectories and Responders pages
TRAJ_TIME = "trajectories_time"  # "infusions" | "day"
TRAJ_VALUE = "trajectories_value"  # "score" | "pct_change" | "pct_of_max"
TRAJ_STATISTIC = "trajectories_statistic"  # "mean" | "median"
TRAJ_BY = "trajectories_by"
TRAJ_COMPARE = "trajectories_compare"  # further instruments, with "pct_of_max" only
TRAJ_BANDS = "trajectories_bands"
RESP_BY = "responders_by"


# Prediction page
PRED_ON_TREATMENT = "prediction_on_treatment"
PRED_MODEL = "prediction_model"  # "logistic" | "gbm"
PRED_FEATURES = "prediction_features"
PRED_REPEATS = "prediction_repeats"
PRED_FIT = "prediction_fit_requested"  # True once "Fit model" was pressed
PRED_THRESHOLD = "prediction_threshold"  # percent, 5-95
PRED_WHAT_IF_PREFIX = "prediction_what_if__"


# Report page
REPORT_SECTIONS = "report_sections"
REPORT_BY = "report_by"
REPORT_BUILT = "report_built"  # a new value per click on "Build report"
