"""riskwatch's engine, one subpackage per domain; dependencies point down this list only:

- `cli`: the `riskwatch` command (thin: parse, call one function, print).
- `run`: one run and its steps, each recorded under the run's id.
- `tools`: sample data, split and corrupt, the API client.
- `drift` and `report`: drift statistics and their step; the PDF and the per-file HTML page.
- `ingest`: discovery, readers, the data contract and quality checks, quarantine, alerts.
- `model`: features, design matrix, estimator, metrics, policy (pure) and the registry.
- `storage`: the schema, engines and migrations, every write, the reads for people.
- `settings`; then `formatting`, `vocabulary`, `infra`; then `errors`, the one exception root.

The import contracts in pyproject.toml (`lint-imports`) hold this order, forbid cycles, keep
Flask out of the engine and I/O out of the pure computations. Nothing happens at import.
"""
