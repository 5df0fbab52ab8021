"""``python -m simulations.gateways``: run the stand-ins until interrupted."""

from simulations.gateways.world import main

main()
