"""emoavatar's default emotion controller (``mixture``)."""
