"""core.paging: the sort and page a URL asks for (a whitelist, never the request's text), the
header and page links that keep the filters, and the pager as the lists render it."""

from django.http import QueryDict
from django.template.loader import render_to_string

from core import paging
from core.paging import Column, Table

TABLE = Table(
    columns=(
        Column("name", "Name", "name"),
        Column("amount", "Amount", "amount_cents", num=True, desc_first=True),
        Column("note", "Note"),  # not sortable
    ),
    default="-amount",
)


def test_the_url_picks_a_whitelisted_column_or_the_default():
    asked = paging.paging(QueryDict("sort=name&page=3"), TABLE)
    assert (asked.column.order, asked.descending, asked.page) == ("name", False, 3)
    assert asked.sql_params == {"limit": 50, "offset": 100}
    for query in ("sort=amount_cents", "sort=note", "sort=name;drop", "sort=", ""):
        default = paging.paging(QueryDict(query), TABLE)
        assert (default.column.key, default.descending, default.page) == ("amount", True, 1)
    for page in ("0", "-2", "x", "1.5", ""):
        assert paging.paging(QueryDict(f"page={page}"), TABLE).page == 1


def test_a_second_list_on_a_page_has_parameters_of_its_own():
    other = Table(columns=TABLE.columns, default="name", prefix="b_")
    query = QueryDict("sort=name&page=2&b_sort=-amount&b_page=4&kind=x")
    first, second = paging.paging(query, TABLE), paging.paging(query, other)
    assert (first.column.key, first.page) == ("name", 2)
    assert (second.column.key, second.descending, second.page) == ("amount", True, 4)
    view = paging.table_view(query, second, total=500, shown=50)
    assert view.next_url == "?sort=name&page=2&b_sort=-amount&b_page=5&kind=x"


def test_headers_keep_the_filters_and_turn_the_sorted_column_round():
    query = QueryDict("kind=refund&sort=-amount&page=4&format=csv&run=7")
    view = paging.table_view(query, paging.paging(query, TABLE), total=1000, shown=50)
    name, amount, note = view.headers
    assert amount.aria_sort == "descending" and amount.url == "?kind=refund&sort=amount"
    assert name.aria_sort == "" and name.url == "?kind=refund&sort=name"
    assert note.url == ""
    assert view.previous_url == "?kind=refund&sort=-amount&page=3"
    assert view.first_page_url == "?kind=refund&sort=-amount"  # no format, run or page 1


def test_page_links_show_the_ends_and_the_pages_around():
    query = QueryDict("page=10")
    view = paging.table_view(query, paging.paging(query, TABLE), total=1234, shown=50)
    assert [(link.number, link.current) for link in view.links] == [
        (1, False),
        (0, False),
        (8, False),
        (9, False),
        (10, True),
        (11, False),
        (12, False),
        (0, False),
        (25, False),
    ]
    assert (view.first_row, view.last_row, view.past_end) == (451, 500, False)
    last_page = QueryDict("page=25")
    last = paging.table_view(last_page, paging.paging(last_page, TABLE), total=1234, shown=34)
    assert (last.first_row, last.last_row, last.next_url) == (1201, 1234, "")
    after = QueryDict("page=26")
    past = paging.table_view(after, paging.paging(after, TABLE), total=None, shown=0)
    assert past.past_end and past.links == []


def test_the_pager_writes_numbers_with_thousands_separators():
    query = QueryDict("page=200")
    view = paging.table_view(query, paging.paging(query, TABLE), total=12_345, shown=50)
    html = render_to_string("tables/_pager.html", {"view": view})
    assert "rows 9,951\N{EN DASH}10,000 of 12,345" in html
    assert '<strong aria-current="page">200</strong>' in html
    assert '<a href="?page=247">247</a>' in html and 'rel="next"' in html
    head = render_to_string("tables/_head.html", {"view": view})
    assert '<th class="num" aria-sort="descending"><a class="sort" href="?sort=amount">' in head
