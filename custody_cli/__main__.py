"""`python -m custody_cli ARGUMENTS`: what the `custody` script runs."""

from custody_cli import main

main()
