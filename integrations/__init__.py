"""Adapters for agent frameworks, over memstrata's HTTP client: the top layer, installed with
an extra each (`memstrata[agents]`); nothing below imports a framework."""
