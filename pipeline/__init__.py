"""riskwatch engine: settings, storage, ingestion, training, scoring, registry and the run."""
