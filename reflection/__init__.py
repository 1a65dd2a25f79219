"""Turns transcripts into facts, knowledge, session summaries and the journal, in the worker.
May import `memory`; never `resume` or `service`."""
