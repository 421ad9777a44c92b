"""Files the operator gives and takes: csv/xls/xlsx/ods in, xlsx out (M6, U7, B8).

An adapter (architecture.md, "Three rings"): it reads and writes bytes, and
hands rows to the pure parsing plans of :mod:`agent.core.table_plan`.
"""

from agent.files.tables import Cell, Row, Table, read_table
from agent.files.xlsx import Sheet, write_xlsx

__all__ = ["Cell", "Row", "Sheet", "Table", "read_table", "write_xlsx"]
