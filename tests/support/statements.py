"""Counting the SQL statements an app sends (the `sql_statements` fixture's counter)."""


class StatementCounter:
    def __init__(self) -> None:
        self.count = 0
