"""Ruled tables on the fast path: pdfplumber's table finder on the pages whose layout holds rules.

pdfminer's layout of a page (already made for its paragraphs) says whether the page holds enough
horizontal rules for a table (RULES_FOR_A_TABLE); only those pages are parsed again, by pdfplumber.
Two kinds of ruled table are found:

- grids (every cell ruled): pdfplumber's "lines" strategy;
- open tables (rules above, below and under the header only, as most papers set them): a stack of
  three or more rules of the same extent bounds the table; its columns are the gaps that no word
  crosses, given to pdfplumber as explicit vertical lines, and a ruled row whose cells all hold the same
  number of lines is split into that many rows.

pdfplumber gives the cells' boxes; their text is read from pdfminer's lines (its word spaces, as the
paragraphs have them), row by row. The paragraph flow then drops the characters inside a table's box;
a table with a character of its box in none of its cells is not used, so no word is lost.
"""

from __future__ import annotations

import html
import io
from dataclasses import dataclass
from typing import Any

from tasks.pdf.paragraphs import clean_text, join_lines

RULE_MIN_WIDTH = 40.0  # points: shorter strokes are ticks, underlines or marks, not table rules
RULE_MAX_THICKNESS = 3.0
# Three rules (top, under the header, bottom) are the least a ruled table has. Measured on ../shared/data
# (layout_rules): pages with a table hold 4-31, the text pages of the papers 0-2, and all of the first 200
# pages of DA-619p.pdf none (its table of contents underlines 400 links: 0.5 s a page for pdfplumber).
RULES_FOR_A_TABLE = 3
COLUMN_GAP = 4.0  # points between words of a row that no word of the table crosses: a column boundary
SAME_EXTENT = 2.0  # points: rules of one table start and end within this of each other
GRID = {"vertical_strategy": "lines", "horizontal_strategy": "lines"}


Box = tuple[float, float, float, float]  # x0, y0, x1, y1 in pdfminer's coordinates (y upwards)


@dataclass
class TableGrid:
    """Where a table's cells are on its page, as pdfplumber found them (None: no cell there)."""

    bbox: Box
    cells: list[list[Box | None]]

    def holds(self, x: float, y: float) -> bool:
        return _within(self.bbox, x, y)


@dataclass
class FoundTable:
    """A table of one page: rows of cell texts and its box."""

    rows: list[list[str]]
    bbox: Box

    @property
    def text(self) -> str:
        return "\n".join(" ".join(cell for cell in row if cell) for row in self.rows if any(row))

    @property
    def html(self) -> str:
        body = "".join("<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>"
                       for row in self.rows)
        return f"<table>{body}</table>"

    def holds(self, x: float, y: float) -> bool:
        return _within(self.bbox, x, y)


def _within(box: Box, x: float, y: float) -> bool:
    return box[0] <= x <= box[2] and box[1] <= y <= box[3]


def layout_rules(layout: Any) -> int:
    """Horizontal rule strokes in a pdfminer layout (lines, thin rectangles and paths; a box counts two).

    A thin stroke inside a text line's box underlines its text (a link, say): it is no table rule.
    """
    from pdfminer.layout import LTContainer, LTCurve, LTTextLine

    strokes: list[Any] = []
    lines: list[Any] = []
    stack = [layout]
    while stack:
        item = stack.pop()
        if isinstance(item, LTCurve):  # LTLine and LTRect are curves too
            if item.width >= RULE_MIN_WIDTH:
                strokes.append(item)
        elif isinstance(item, LTTextLine):
            lines.append(item)
        elif isinstance(item, LTContainer):
            stack.extend(item)
    count = 0
    for stroke in strokes:
        if stroke.height > RULE_MAX_THICKNESS:
            count += 2
        elif not any(line.y0 <= stroke.y0 and stroke.y1 <= line.y1 and line.x0 < stroke.x1 and stroke.x0 < line.x1
                     for line in lines):
            count += 1
    return count


def find_grids(pdf: Any, page_index: int, page_height: float) -> list[TableGrid]:
    """The ruled tables of one page of an open pdfplumber document (0-based index in it)."""
    page = pdf.pages[page_index]
    shift = page.mediabox[0]

    def box(b: tuple[float, float, float, float]) -> Box:  # pdfplumber's (x0, top, x1, bottom), y downwards
        return (b[0] - shift, page_height - b[3], b[2] - shift, page_height - b[1])

    found: list[tuple[tuple[float, float, float, float], Any]] = []
    for region in _open_regions(page):
        table = _open_table(page, region)
        if table is not None and _is_table(table.extract()):
            found.append((region, table))
    for grid in page.find_tables(GRID):
        # A grid inside an open table's rules is part of it (a few vertical rules between its columns).
        if _is_table(grid.extract()) and not any(_inside(grid.bbox, region) for region, _ in found):
            found.append((grid.bbox, grid))
    return [TableGrid(box(bbox), [[box(cell) if cell else None for cell in row.cells] for row in table.rows])
            for bbox, table in found]


def read_tables(grids: list[TableGrid], text_lines: list[Any]) -> list[FoundTable]:
    """The tables' cell texts from pdfminer's text lines (its word spaces); a table losing a word is dropped.

    Lines are read within each cell, top to bottom; a character inside a table's box but in none of its
    cells makes that table unusable (its words would be lost from the flow and missing from the table).
    """
    from pdfminer.layout import LTChar

    tables = []
    for grid in grids:
        parts: dict[tuple[int, int], list[tuple[float, float, str]]] = {}
        lost = False
        for line in text_lines:
            pieces: dict[tuple[int, int], str] = {}
            cell: tuple[int, int] | None = None
            for item in line:
                if isinstance(item, LTChar):
                    x, y = (item.x0 + item.x1) / 2, (item.y0 + item.y1) / 2
                    cell = _cell_at(grid, x, y) if grid.holds(x, y) else None
                    if grid.holds(x, y) and cell is None:
                        lost = True
                if cell is not None:
                    pieces[cell] = pieces.get(cell, "") + item.get_text()
            for key, text in pieces.items():
                parts.setdefault(key, []).append((-line.y1, line.x0, text.strip()))
        if lost or not parts:
            continue
        rows = [[_cell_text(parts.get((r, c), [])) for c in range(len(row))] for r, row in enumerate(grid.cells)]
        cleaned = [[clean_text(cell).strip() for cell in row] for row in _split_rows(rows)]
        tables.append(FoundTable(cleaned, grid.bbox))
    return tables


def outside_tables(line: Any, tables: list[FoundTable]) -> str:
    """The text of a pdfminer line less its characters inside a table (a space after a kept character kept)."""
    from pdfminer.layout import LTChar

    text, keep = "", True
    for item in line:
        if isinstance(item, LTChar):
            x, y = (item.x0 + item.x1) / 2, (item.y0 + item.y1) / 2
            keep = not any(table.holds(x, y) for table in tables)
        if keep:
            text += item.get_text()
    return text


class TableFinder:
    """pdfplumber over a batch's pages, opened at the first page whose layout holds enough rules."""

    def __init__(self, source_id: int, first: int, enabled: bool) -> None:
        self.source_id, self.first, self.enabled = source_id, first, enabled
        self.pages = b""
        self.searched: list[int] = []
        self._pdf: Any = None

    def grids(self, layout: Any, page_number: int) -> list[TableGrid]:
        if not self.enabled or layout_rules(layout) < RULES_FOR_A_TABLE:
            return []
        import pdfplumber
        from pdfplumber.utils.exceptions import PdfminerException

        self.searched.append(page_number)
        try:
            self._pdf = self._pdf or pdfplumber.open(io.BytesIO(self.pages))
            return find_grids(self._pdf, page_number - self.first - 1, layout.height)
        except (PdfminerException, ArithmeticError, LookupError, TypeError, ValueError, AttributeError):
            return []  # the page's text still comes through pdfminer, as paragraphs

    def close(self) -> None:
        if self._pdf is not None:
            self._pdf.close()


def upright_lines(layout: Any) -> list[Any]:
    """The text lines of the page's upright text boxes (figures' included)."""
    from pdfminer.layout import LTChar, LTContainer, LTTextBox, LTTextLine

    lines: list[Any] = []
    stack = [layout]
    while stack:
        item = stack.pop()
        if isinstance(item, LTTextBox):
            box = [line for line in item if isinstance(line, LTTextLine)]
            chars = [c for line in box for c in line if isinstance(c, LTChar)]
            if not chars or sum(not c.upright for c in chars) * 2 < len(chars):
                lines.extend(box)
        elif isinstance(item, LTContainer):
            stack.extend(item)
    return lines


def _cell_text(pieces: list[tuple[float, float, str]]) -> str:
    """Pieces of lines (minus top, left, text) as the cell's lines: pieces at one height are one line."""
    lines: list[list[tuple[float, float, str]]] = []
    for piece in sorted(pieces):
        if lines and abs(lines[-1][0][0] - piece[0]) <= 2:
            lines[-1].append(piece)
        else:
            lines.append([piece])
    return "\n".join(" ".join(text for _, _, text in sorted(line, key=lambda p: p[1])) for line in lines)


def _cell_at(grid: TableGrid, x: float, y: float) -> tuple[int, int] | None:
    for r, row in enumerate(grid.cells):
        for c, cell in enumerate(row):
            if cell is not None and _within(cell, x, y):
                return r, c
    return None


def _is_table(rows: list[list[Any]]) -> bool:
    """Two rows and two columns at least, and most cells filled (a framed box of text is not a table)."""
    if len(rows) < 2 or max(len(row) for row in rows) < 2:
        return False
    cells = [cell for row in rows for cell in row]
    return sum(bool(cell and str(cell).strip()) for cell in cells) * 2 >= len(cells)


def _inside(inner: tuple[float, ...], outer: tuple[float, ...], slack: float = 2.0) -> bool:
    return (inner[0] >= outer[0] - slack and inner[1] >= outer[1] - slack and inner[2] <= outer[2] + slack
            and inner[3] <= outer[3] + slack)


def _page_rules(page: Any) -> list[tuple[float, float, float]]:
    """Horizontal rules (x0, x1, top): lines and thin boxes or paths, collinear pieces joined.

    The edges of taller boxes (a shaded band, a code listing's background) are not rules.
    """
    strokes = sorted((o["x0"], o["x1"], o["top"]) for o in page.lines + page.rects + page.curves
                     if o["bottom"] - o["top"] <= RULE_MAX_THICKNESS)
    rules: list[tuple[float, float, float]] = []
    for x0, x1, top in sorted(strokes, key=lambda s: (round(s[2]), s[0])):
        if rules and abs(rules[-1][2] - top) <= 1 and x0 <= rules[-1][1] + 2:
            rules[-1] = (rules[-1][0], max(rules[-1][1], x1), rules[-1][2])
        else:
            rules.append((x0, x1, top))
    return [rule for rule in rules if rule[1] - rule[0] >= RULE_MIN_WIDTH]


def _open_regions(page: Any) -> list[tuple[float, float, float, float]]:
    """Boxes (x0, top, x1, bottom) bounded by three or more stacked rules of the same extent."""
    groups: list[list[tuple[float, float, float]]] = []
    for rule in sorted(_page_rules(page), key=lambda r: r[2]):
        for group in groups:
            if abs(group[0][0] - rule[0]) <= SAME_EXTENT and abs(group[0][1] - rule[1]) <= SAME_EXTENT:
                if rule[2] - group[-1][2] > RULE_MAX_THICKNESS:  # not the other side of a thin box
                    group.append(rule)
                break
        else:
            groups.append([rule])
    return [(min(r[0] for r in g), g[0][2], max(r[1] for r in g), g[-1][2])
            for g in groups if len(g) >= RULES_FOR_A_TABLE]


def _open_table(page: Any, region: tuple[float, float, float, float]) -> Any:
    """The rows of the open table in `region`: columns where no word crosses, rows between rules."""
    x0, top, x1, bottom = region
    crop = page.within_bbox((x0 - 1, top - 1, x1 + 1, bottom + 1))
    words = crop.extract_words(keep_blank_chars=False)
    if not words:
        return None
    spans = sorted((w["x0"], w["x1"]) for w in words)
    columns = [x0]
    reach = spans[0][1]
    for start, end in spans[1:]:
        if start - reach >= COLUMN_GAP:
            columns.append((reach + start) / 2)
        reach = max(reach, end)
    columns.append(x1)
    if len(columns) < 3:
        return None
    settings = {"vertical_strategy": "explicit", "horizontal_strategy": "lines",
                "explicit_vertical_lines": columns}
    tables = crop.find_tables(settings)
    return tables[0] if len(tables) == 1 else None


def _split_rows(rows: list[list[str]]) -> list[list[str]]:
    """A ruled row whose filled cells all hold the same number of lines (> 1) as that many rows."""
    result: list[list[str]] = []
    for row in rows:
        lines = [cell.split("\n") if cell else [] for cell in row]
        counts = {len(cell) for cell in lines if cell}
        if len(counts) == 1 and (n := counts.pop()) > 1 and sum(bool(c) for c in lines) >= 2:
            result.extend([cell[i] if cell else "" for cell in lines] for i in range(n))
        else:
            result.append([join_lines(cell.split("\n")) for cell in row])
    return result
