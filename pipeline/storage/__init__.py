"""Storage: the schema (`tables`), engines and migrations (`db`), what runs write (`writes`),
and what people read (`reads`).

SQLAlchemy Core only, no pandas: the no-op tick imports it. It may import `pipeline.errors`,
`pipeline.settings` and `pipeline.infra`; nothing above it.
"""
