"""The one exception type users see for bad data or config."""


class DataError(ValueError):
    """A problem with the user's data or config; the message says where it is and what to do."""


# How many dates or values a message or a summary lists before it only counts the rest.
MAX_LISTED = 10
