"""The API's JSON parser: bounded in size and in nesting, so a hostile body is a 413 or a 400,
never a worker held busy or a RecursionError (a 500).

Django refuses a body over DATA_UPLOAD_MAX_MEMORY_SIZE with a bare 400 (RequestDataTooBig) when
``request.body`` is read, which DRF does for any JSONParser subclass. This parser is not one: it
reads the stream itself, at most the limit, and answers an API client 413 in JSON.
"""

import io
import re

import numpy as np
from django.conf import settings
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import BaseParser, JSONParser

# Far deeper than any request of the portal's (three levels); far shallower than the stack.
MAX_DEPTH = 32
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


class BoundedJSONParser(BaseParser):
    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        request = (parser_context or {}).get("request")
        declared = request.META.get("CONTENT_LENGTH") if request is not None else None
        if limit is not None and declared and declared.isdigit() and int(declared) > limit:
            raise PayloadTooLarge(f"The request body is over {limit:,} bytes.")
        body = stream.read() if limit is None else stream.read(limit + 1)
        if limit is not None and len(body) > limit:
            raise PayloadTooLarge(f"The request body is over {limit:,} bytes.")
        if _depth(body) > MAX_DEPTH:
            raise ParseError(f"JSON parse error - nested deeper than {MAX_DEPTH} levels")
        return JSONParser().parse(io.BytesIO(body), media_type, parser_context)


def _depth(body: bytes) -> int:
    """The deepest nesting of arrays and objects, brackets inside strings aside (checked before
    the recursive decoder ever sees the body; vectorised, as a body may be megabytes)."""
    codes = np.frombuffer(_STRING.sub(b'""', body), dtype=np.uint8)
    opens = (codes == ord("[")) | (codes == ord("{"))
    closes = (codes == ord("]")) | (codes == ord("}"))
    return int(np.cumsum(opens.astype(np.int64) - closes).max(initial=0))
