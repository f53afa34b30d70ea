"""Sorting and paging of the list pages, on the server: the sort and the page live in the URL
beside the filters (``?sort=-amount&page=3``), so a link reproduces what was on screen.

A sort names a column of the page's whitelist (``Table.columns``), never SQL or a field path:
what the list orders by is the column's ``order``, written in code. The list itself applies it
(SQL ORDER BY/LIMIT/OFFSET with bound numbers, or a queryset's order_by and slice)."""

from dataclasses import dataclass
from math import ceil

from django.db.models import F, OrderBy
from django.http import QueryDict

PAGE_SIZE = 50
# Page links either side of the current page (the first and last are always linked).
_PAGE_LINKS_AROUND = 2
# Parameters of a request that a link to another sort or page never carries.
_NOT_CARRIED = ("format", "run")


@dataclass(frozen=True)
class Column:
    key: str  # how the URL names it
    label: str
    order: str = ""  # the SQL column or model field it sorts by; "" when not sortable
    num: bool = False  # right-aligned figures
    desc_first: bool = False  # the first click sorts largest or newest first


@dataclass(frozen=True)
class Table:
    """The columns of one list, which of them sort, and its default sort ("-key": descending).
    A second list on a page takes a ``prefix`` for its parameters (``dmca_sort``, ...)."""

    columns: tuple[Column, ...]
    default: str
    prefix: str = ""
    size: int = PAGE_SIZE

    def column(self, key: str) -> Column | None:
        return next((c for c in self.columns if c.key == key and c.order), None)

    @property
    def sort_param(self) -> str:
        return f"{self.prefix}sort"

    @property
    def page_param(self) -> str:
        return f"{self.prefix}page"


@dataclass(frozen=True)
class Paging:
    table: Table
    column: Column
    descending: bool
    page: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.table.size

    @property
    def limit(self) -> int:
        return self.table.size

    @property
    def sql_params(self) -> dict[str, int]:
        """The page as bound parameters of a query ending in LIMIT :limit OFFSET :offset."""
        return {"limit": self.limit, "offset": self.offset}

    def order_by(self, *tiebreak: str) -> list[OrderBy | str]:
        """A queryset's ordering, then ``tiebreak`` (ending in a unique field, so that pages
        never overlap); missing values last either way, as in the SQL lists."""
        field = F(self.column.order)
        first = field.desc(nulls_last=True) if self.descending else field.asc(nulls_last=True)
        return [first, *tiebreak]

    def slice(self) -> slice:
        return slice(self.offset, self.offset + self.limit)


def paging(query: QueryDict, table: Table) -> Paging:
    """The sort and page ``query`` asks for. An unknown column or a bad page number gives the
    default sort or the first page instead of an error: old links keep working."""
    sort = query.get(table.sort_param) or table.default
    column = table.column(sort.removeprefix("-"))
    if column is None:
        sort = table.default
        column = table.column(sort.removeprefix("-"))
        assert column is not None, f"default sort {sort!r} is not a sortable column"
    page = query.get(table.page_param, "")
    return Paging(
        table=table,
        column=column,
        descending=sort.startswith("-"),
        page=int(page) if page.isdigit() and int(page) > 0 else 1,
    )


@dataclass(frozen=True)
class Header:
    label: str
    num: bool
    url: str  # "" when the column does not sort
    aria_sort: str  # "ascending" or "descending" on the sorted column, else ""

    @property
    def arrow(self) -> str:
        return {"ascending": "\u25b2", "descending": "\u25bc"}.get(self.aria_sort, "")


@dataclass(frozen=True)
class PageLink:
    number: int  # 0 stands for a gap ("…")
    url: str
    current: bool


@dataclass(frozen=True)
class TableView:
    """What a template needs around one page of a list: its header links and its pager."""

    headers: list[Header]
    total: int | None  # matching rows on every page; None: unknown (a page past the last row)
    past_end: bool  # the page asked for starts after the last row
    first_row: int
    last_row: int
    links: list[PageLink]
    previous_url: str
    next_url: str
    first_page_url: str


def table_view(query: QueryDict, paged: Paging, *, total: int | None, shown: int) -> TableView:
    """Header and pager links for the page ``paged`` of a list of ``total`` rows, ``shown`` of
    them on this page; the links keep every other parameter of ``query`` (the filters)."""
    table = paged.table
    size = table.size
    pages = ceil(total / size) if total else 1
    return TableView(
        headers=[_header(query, paged, column) for column in table.columns],
        total=total,
        past_end=paged.page > 1 and not shown,
        first_row=paged.offset + 1 if shown else 0,
        last_row=paged.offset + shown,
        links=_links(query, paged, pages) if total and pages > 1 else [],
        previous_url=_url(query, table, page=paged.page - 1) if paged.page > 1 else "",
        next_url=_url(query, table, page=paged.page + 1) if paged.page < pages else "",
        first_page_url=_url(query, table, page=1),
    )


def _header(query: QueryDict, paged: Paging, column: Column) -> Header:
    if not column.order:
        return Header(column.label, column.num, "", "")
    active = column.key == paged.column.key
    # The sorted column turns round; another starts in its natural direction.
    descending = not paged.descending if active else column.desc_first
    sort = f"-{column.key}" if descending else column.key
    aria = ("descending" if paged.descending else "ascending") if active else ""
    return Header(column.label, column.num, _url(query, paged.table, sort=sort, page=1), aria)


def _links(query: QueryDict, paged: Paging, pages: int) -> list[PageLink]:
    around = range(paged.page - _PAGE_LINKS_AROUND, paged.page + _PAGE_LINKS_AROUND + 1)
    wanted = sorted({1, pages, *(n for n in around if 1 <= n <= pages)})
    links: list[PageLink] = []
    for number in wanted:
        if links and number > links[-1].number + 1:
            links.append(PageLink(0, "", False))
        url = _url(query, paged.table, page=number)
        links.append(PageLink(number, url, number == paged.page))
    return links


def _url(query: QueryDict, table: Table, *, page: int, sort: str | None = None) -> str:
    changed = query.copy()
    for name in _NOT_CARRIED:
        changed.pop(name, None)
    if sort is not None:
        changed[table.sort_param] = sort
    # Page 1 is the default: its links stay short.
    if page > 1:
        changed[table.page_param] = str(page)
    else:
        changed.pop(table.page_param, None)
    return f"?{changed.urlencode()}"
