"""What people read: the PDF report per run, the HTML quality page per file, their charts, and
the run's diagnostics (summary statistics, missing values, packages).
"""
