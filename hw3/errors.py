"""Errors meant for the user: the message names the file or question and says how to fix it."""


class Hw3Error(Exception):
    """A problem the user can fix; `hw3` prints the message alone, without a traceback."""
