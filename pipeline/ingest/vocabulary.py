"""The quality gate's error types and their default criticality: names users and scripts see.

Standard library only, so settings can validate against them without loading pandas.
"""

ERROR_TYPES = (
    "unreadable",
    "empty",
    "missing_column",
    "extra_column",
    "duplicate_column",
    "wrong_type",
    "missing_value",
    "out_of_range",
    "unknown_category",
    "duplicate_row",
    "duplicate_id",
    "invalid_label",
    "infinite_value",
    "renamed_column",
)
FILE_LEVEL = frozenset(
    {"unreadable", "empty", "missing_column", "extra_column", "duplicate_column", "renamed_column"}
)
# File-level types that make the whole file unusable (it is quarantined byte for byte).
REJECTING = frozenset(
    {"unreadable", "empty", "missing_column", "duplicate_column", "renamed_column"}
)
CRITICALITIES = ("low", "medium", "high")
DEFAULT_CRITICALITY = {
    "unreadable": "high",
    "empty": "medium",
    "missing_column": "high",
    "extra_column": "low",
    "duplicate_column": "high",
    "wrong_type": "medium",
    "missing_value": "medium",
    "out_of_range": "medium",
    "unknown_category": "low",
    "duplicate_row": "low",
    "duplicate_id": "medium",
    "invalid_label": "high",
    "infinite_value": "medium",
    "renamed_column": "high",
}
