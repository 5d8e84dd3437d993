"""`python -m obstack` runs the obstack CLI."""

from obstack.stack.cli import main

main()
