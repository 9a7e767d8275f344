"""Storage: the schema (`tables`), engines and migrations (`db`), what runs write (`writes`),
what people read (`reads`), and the Protocols naming what `writes` reads of the objects it
records (`shapes`).

SQLAlchemy Core only, no pandas: the no-op tick imports it. It may import `pipeline.errors`,
`pipeline.settings` and `pipeline.infra`; nothing above it.
"""
