"""Decides how a returning user's conversation resumes and builds the context block.
May import `memory`; never `reflection` or `service`."""
