"""Data drift: reference profiles, the statistics, the comparison and decision (pure), and the
run step that stores profiles and records results (`step`).
"""
