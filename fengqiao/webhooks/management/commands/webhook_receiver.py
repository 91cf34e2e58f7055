"""``manage.py webhook_receiver``: a minimal receiving platform for trying webhooks locally.

Listens on 127.0.0.1, checks every request's Standard Webhooks signature with the
given secret and prints the event (or why it was refused, answering 401). Only
for development and demos; a real receiver is the other platform's own service.
"""

from __future__ import annotations

import json
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils.translation import gettext as _

from fengqiao.webhooks import signing


class Command(BaseCommand):
    help = "Run a local webhook receiver that verifies signatures and prints the events (development only)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=8765)
        parser.add_argument("--secret", required=True, help="the subscriber's signing secret (whsec_…)")

    def handle(self, *args: Any, **options: Any) -> None:
        secret: str = options["secret"]
        out = self.stdout

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                try:
                    signing.verify(secret, dict(self.headers.items()), body, now=time.time())
                except signing.InvalidSignature as exc:
                    out.write(_("Refused: %(error)s") % {"error": exc})
                    self.send_response(401)
                    self.end_headers()
                    return
                event = json.loads(body)
                out.write(_("Verified %(id)s:") % {"id": self.headers.get("webhook-id")})
                out.write(json.dumps(event, ensure_ascii=False, indent=2))
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        server = HTTPServer(("127.0.0.1", options["port"]), Handler)
        out.write(_("Listening on http://127.0.0.1:%(port)d/ (Ctrl+C to stop)") % {"port": options["port"]})
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
