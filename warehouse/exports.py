"""CSV exports of query results, for pages: the file from the cached result, or a page saying
it is being prepared. An export never holds a web worker for the query: the page reloads the
same link (with ``run=<id>``) until the run finished; that request answers from the cache, or,
when the run failed, with its failure (selectors.run_failed) rather than running it again."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from warehouse.result_cache import CachedResult
from warehouse.services import Answer

# Seconds between the preparing page's reloads; each reload is one cheap request (it joins
# the run in flight) and counts towards the user's query throttle.
RELOAD_SECONDS = 2


def csv_download(result: CachedResult, filename: str) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["X-Data-As-Of"] = result.data_as_of or ""
    response["X-Query-Run"] = str(result.run_id)
    result.frame.to_csv(response, index=False)
    return response


def csv_preparing(request: HttpRequest, *, answer: Answer, title: str, back_url: str):
    """202: the export's run is queued or running; the page reloads itself (the same link)."""
    query = request.GET.copy()
    query["run"] = str(answer.run_id)
    context = {
        "answer": answer,
        "title": title,
        "back_url": back_url,
        "reload_seconds": RELOAD_SECONDS,
        "download_url": f"{request.path}?{query.urlencode()}",
    }
    response = render(request, "warehouse/csv_preparing.html", context, status=202)
    response["Retry-After"] = str(RELOAD_SECONDS)
    return response
