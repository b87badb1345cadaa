"""The HTTP JSON gateway: the only thing the app talks to."""
