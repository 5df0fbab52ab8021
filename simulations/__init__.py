"""Simulations: synthetic populations, behaviour model, reach and what-if simulations."""
