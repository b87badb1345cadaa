"""Fault, load and fuzz runs against the whole system on one machine (`make reliability`)."""
