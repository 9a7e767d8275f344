"""The quality gate's words: error types, their default criticality, the order of criticality
and the verdict on a file. Names users and scripts see, declared once here.

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
    "invalid_share",
    "unlabelled",
)
FILE_LEVEL = frozenset(
    {
        "unreadable",
        "empty",
        "missing_column",
        "extra_column",
        "duplicate_column",
        "renamed_column",
        "invalid_share",
        "unlabelled",
    }
)
# File-level types the gate derives from the file's other violations, not from its bytes (a
# share of invalid rows above quality.max_invalid_share; a file with no label at all refused
# because data.unlabelled_files = "quarantine" says so): nothing in a file injects them alone.
DERIVED = frozenset({"invalid_share", "unlabelled"})
# File-level types that make the whole file unusable (it is quarantined byte for byte).
REJECTING = frozenset(
    {"unreadable", "empty", "missing_column", "duplicate_column", "renamed_column", "unlabelled"}
)
# Least to most severe: the one order of criticality that sorting, alerts and reports use.
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
    "invalid_share": "high",
    "unlabelled": "medium",
}

# What the gate did with a file, and the words a person reads for it (PDF and HTML page).
VERDICT_WORDS = {
    "clean": "clean",
    "quarantined": "rows quarantined",
    "rejected": "whole file rejected",
}


def criticality_rank(level: str | None) -> int:
    """Rank a criticality: higher is worse, and none or an unknown word ranks below low."""
    return CRITICALITIES.index(level) if level in CRITICALITIES else -1


def file_verdict(rejected: bool, rows_invalid: int) -> str:
    """Say what the quality gate did with a file: 'rejected', 'quarantined' or 'clean'."""
    if rejected:
        return "rejected"
    return "quarantined" if rows_invalid else "clean"
