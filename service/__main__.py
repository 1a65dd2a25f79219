"""`python -m service`: the `memstrata` command, for processes that start one another."""

from service.cli import app

app()
