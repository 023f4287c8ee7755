"""The one exception type that the command line reports as a clean one-line error."""


class HashbenchError(Exception):
    """Bad input or state that the user can fix; the message names the file or field at fault."""
