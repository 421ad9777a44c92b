"""Sample tables made from code: xlsx by openpyxl, ods by hand (a zip of XML).

No LibreOffice here, and the ODS needed for a reader test is small: the
OpenDocument 1.2 spreadsheet skeleton (mimetype stored first, a manifest,
content.xml with one table per sheet).
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from datetime import date, datetime
from xml.sax.saxutils import escape

import openpyxl

CONTACT_ROWS: list[list[object]] = [
    ["ПІБ", "Компанія", "Телефон", "Дата"],
    ["Іван Петренко", "ТОВ «Ромашка»", "+380 44 224-98-95", datetime(2024, 3, 1)],
    ["Олена Коваль", "ФОП Коваль", 380671234567, datetime(2024, 3, 2)],
    ["Петро", None, "abc", None],
]


def make_xlsx(sheets: dict[str, Sequence[Sequence[object]]]) -> bytes:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        ws = book.create_sheet(title)
        for row in rows:
            ws.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


_ODS_TYPE = "application/vnd.oasis.opendocument.spreadsheet"
_MANIFEST = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<manifest:manifest manifest:version="1.2"'
    ' xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0">'
    f'<manifest:file-entry manifest:full-path="/" manifest:media-type="{_ODS_TYPE}"/>'
    '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
    "</manifest:manifest>"
)

_CONTENT = """<?xml version="1.0" encoding="UTF-8"?>
<office:document-content
 xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"
 xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"
 xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">
<office:body><office:spreadsheet>{tables}</office:spreadsheet></office:body>
</office:document-content>
"""


def make_ods(sheets: dict[str, Sequence[Sequence[object]]]) -> bytes:
    tables = "".join(
        f'<table:table table:name="{escape(title)}">{"".join(_ods_row(r) for r in rows)}'
        "</table:table>"
        for title, rows in sheets.items()
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr(
            zipfile.ZipInfo("mimetype"),
            _ODS_TYPE,
            compress_type=zipfile.ZIP_STORED,
        )
        z.writestr("META-INF/manifest.xml", _MANIFEST, compress_type=zipfile.ZIP_DEFLATED)
        z.writestr(
            "content.xml", _CONTENT.format(tables=tables), compress_type=zipfile.ZIP_DEFLATED
        )
    return out.getvalue()


def _ods_row(row: Sequence[object]) -> str:
    return f"<table:table-row>{''.join(_ods_cell(v) for v in row)}</table:table-row>"


def _ods_cell(value: object) -> str:
    if value is None:
        return "<table:table-cell/>"
    if isinstance(value, datetime | date):
        iso = value.isoformat()
        return (
            f'<table:table-cell office:value-type="date" office:date-value="{iso}">'
            f"<text:p>{iso}</text:p></table:table-cell>"
        )
    if isinstance(value, int | float):
        return (
            f'<table:table-cell office:value-type="float" office:value="{value}">'
            f"<text:p>{value}</text:p></table:table-cell>"
        )
    text = escape(str(value))
    return (
        f'<table:table-cell office:value-type="string"><text:p>{text}</text:p></table:table-cell>'
    )


# A minimal xlsx written directly (ECMA-376 part 1, §18.3: inline strings, no
# styles): openpyxl needs ~10 s for 100k rows on a slow machine, this ~0.3 s.
_PKG = "http://schemas.openxmlformats.org/package/2006"
_DOC = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_SML = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_OOXML = "application/vnd.openxmlformats-officedocument.spreadsheetml"
_XLSX_PARTS = {
    "[Content_Types].xml": (
        f'<?xml version="1.0" encoding="UTF-8"?><Types xmlns="{_PKG}/content-types">'
        '<Default Extension="rels"'
        ' ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/xl/workbook.xml" ContentType="{_OOXML}.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml"'
        f' ContentType="{_OOXML}.worksheet+xml"/>'
        "</Types>"
    ),
    "_rels/.rels": (
        f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{_PKG}/relationships">'
        f'<Relationship Id="rId1" Type="{_DOC}/officeDocument" Target="xl/workbook.xml"/>'
        "</Relationships>"
    ),
    "xl/workbook.xml": (
        f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{_SML}" xmlns:r="{_DOC}">'
        '<sheets><sheet name="{title}" sheetId="1" r:id="rId1"/></sheets></workbook>'
    ),
    "xl/_rels/workbook.xml.rels": (
        f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{_PKG}/relationships">'
        f'<Relationship Id="rId1" Type="{_DOC}/worksheet" Target="worksheets/sheet1.xml"/>'
        "</Relationships>"
    ),
}


def make_big_xlsx(title: str, rows: Sequence[Sequence[object]]) -> bytes:
    """One sheet of strings and numbers, fast enough for 100k-row tests."""
    parts = [f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{_SML}"><sheetData>']
    for number, row in enumerate(rows, 1):
        parts.append(f'<row r="{number}">')
        for value in row:
            if value is None:
                parts.append("<c/>")
            elif isinstance(value, int | float):
                parts.append(f"<c><v>{value!r}</v></c>")
            else:
                parts.append(f'<c t="inlineStr"><is><t>{escape(str(value))}</t></is></c>')
        parts.append("</row>")
    parts.append("</sheetData></worksheet>")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, text in _XLSX_PARTS.items():
            z.writestr(name, text.replace("{title}", escape(title)))
        z.writestr("xl/worksheets/sheet1.xml", "".join(parts))
    return out.getvalue()
