"""The built site's test server, shared by the browser fixtures."""

from __future__ import annotations

import sys
from http.server import ThreadingHTTPServer


class SiteServer(ThreadingHTTPServer):
    """A page the browser leaves mid-download (connection reset, pipe broken) is not an error
    worth a traceback in the test log; anything else is still printed."""

    def handle_error(self, request: object, client_address: tuple[str, int]) -> None:
        if not isinstance(sys.exception(), ConnectionError):
            super().handle_error(request, client_address)
