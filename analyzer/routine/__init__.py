"""Skincare routines: the intake form, the rules (as data), and the engine that joins them."""
