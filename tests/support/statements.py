"""Counting the SQL statements an app sends (the `sql_statements` fixture's counter) and the
Python-level work of its read path (tests/common/test_query_counts.py's `work` fixture)."""


class StatementCounter:
    def __init__(self) -> None:
        self.count = 0


class WorkCounter:
    def __init__(self) -> None:
        self.entities = 0
        self.window_evaluations = 0
