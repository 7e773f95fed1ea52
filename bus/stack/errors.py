"""Errors of the local stack; the CLI prints them as one line, never as a traceback."""


class StackError(Exception):
    """The local stack cannot be fetched, started or stopped; the message says what to do."""
