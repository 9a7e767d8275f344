"""riskwatch web app."""
