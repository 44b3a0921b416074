"""`python -m taskloom`: the same as the `taskloom` command."""

from taskloom.cli import main

main()
