"""The `riskwatch` command: sub-commands that parse, call one engine function, and report.

`root` holds the group and what every sub-command shares (settings, `--json` output, the mapping
of riskwatch's errors to exit codes, the database); the commands are grouped by area: the run
and its steps (`run_commands`), reads (`read_commands`), the web app (`app_commands`), the data
and its tools (`data_commands`), the schema (`db_commands`), DVC experiments
(`experiment_commands`), the API's tokens (`token_commands`), the pages' users
(`user_commands`), scheduled and past predictions (`prediction_commands`), the monitoring
documents (`monitor_commands`). `main` is the console script.

It may import every other package of riskwatch, inside the commands that need them: the no-op
tick imports the CLI, so pandas, numpy and scikit-learn are never imported at its top.
"""

# The command modules register their sub-commands on `main` when imported.
from pipeline.cli import (
    app_commands,
    data_commands,
    db_commands,
    experiment_commands,
    monitor_commands,
    prediction_commands,
    read_commands,
    run_commands,
    token_commands,
    user_commands,
)
from pipeline.cli.root import main

__all__ = [
    "app_commands",
    "data_commands",
    "db_commands",
    "experiment_commands",
    "main",
    "monitor_commands",
    "prediction_commands",
    "read_commands",
    "run_commands",
    "token_commands",
    "user_commands",
]
