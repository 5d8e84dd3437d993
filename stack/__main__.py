"""`python -m stack` runs the obstack CLI."""

from stack.cli import main

main()
