"""Passwords, tokens and who is calling."""
