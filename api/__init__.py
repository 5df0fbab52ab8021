"""API: the `zhida` CLI (the web API and console come later)."""
