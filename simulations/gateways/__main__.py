"""``python -m simulations.gateways``: run the stand-ins until interrupted."""

from simulations.gateways._world import main

main()
