"""python -m service.cli: the same as the `dbvend` console script."""

from .main import main

main()
