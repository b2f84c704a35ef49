#!/usr/bin/env python3
"""A webhook receiver that verifies both signatures of a Streem delivery,
with the standard library only (the official standardwebhooks package is
on PyPI but not in Debian, so its check is written out below). Run:

    SHARED_SECRET=... STANDARD_WEBHOOKS_SECRET=whsec_... PORT=9999 python3 receiver.py

STREEM_TOLERANCE_MS (default 500) bounds |now - Streem-Sent-At|. It answers
204 when both signatures verify and 401 otherwise, and prints one line per
request: "accepted|refused streem=<result> standard=<result>".
"""
import base64
import hashlib
import hmac
import os
import sys
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SHARED_SECRET = os.environ.get("SHARED_SECRET", "")
STANDARD_SECRET = os.environ.get("STANDARD_WEBHOOKS_SECRET", "")
if not SHARED_SECRET or not STANDARD_SECRET:
    sys.exit("set SHARED_SECRET and STANDARD_WEBHOOKS_SECRET (GET /v1/webhooks/{sid}/signing-keys)")
# The Standard Webhooks key: the secret's base64 text after "whsec_".
STANDARD_KEY = base64.b64decode(STANDARD_SECRET.removeprefix("whsec_"), validate=True)
PORT = int(os.environ.get("PORT", "9999"))
TOLERANCE_MS = int(os.environ.get("STREEM_TOLERANCE_MS", "500"))
STANDARD_TOLERANCE_S = 5 * 60  # what the Standard Webhooks specification says
MAX_BODY = 1 << 20  # Streem's bodies are far smaller; refuse anything bigger unread


def verify_streem(headers, body):
    """HMAC-SHA256 (hex) over "Name=Value;" for each header listed in
    Streem-Signature-Headers, in order, then the raw body."""
    sent_at = headers.get("Streem-Sent-At")
    names = headers.get("Streem-Signature-Headers")
    given = headers.get("Streem-Signature")
    if not sent_at or not names or not given:
        return "missing-header"
    names = names.split(":")
    # The first signed header must be the time, or a replay could not be told apart.
    if names[0] != "Streem-Sent-At":
        return "bad-header-list"
    try:
        sent = datetime.fromisoformat(sent_at)
    except ValueError:
        return "bad-timestamp"
    if sent.tzinfo is None:
        return "bad-timestamp"
    sent_ms = sent.timestamp() * 1000
    if abs(time.time() * 1000 - sent_ms) > TOLERANCE_MS:
        return "stale"
    mac = hmac.new(SHARED_SECRET.encode(), digestmod=hashlib.sha256)
    for name in names:
        value = headers.get(name)  # case-insensitive
        if value is None:
            return "missing-header"
        mac.update(f"{name}={value};".encode())
    mac.update(body)
    expected = mac.hexdigest()
    # One signature per active signing key, comma separated (key rotation).
    ok = any(hmac.compare_digest(s.strip(), expected) for s in given.split(","))
    return "ok" if ok else "bad-signature"


def verify_standard(headers, body):
    """Standard Webhooks: base64 HMAC-SHA256 over "id.timestamp.body" keyed
    with the base64-decoded whsec_ secret; "v1,<sig>" entries, space separated."""
    msg_id = headers.get("webhook-id")
    ts = headers.get("webhook-timestamp")
    given = headers.get("webhook-signature")
    if not msg_id or not ts or not given:
        return "missing-header"
    if not ts.isascii() or not ts.isdigit() or len(ts) > 12:
        return "bad-timestamp"
    if abs(time.time() - int(ts)) > STANDARD_TOLERANCE_S:
        return "stale"
    signed = msg_id.encode() + b"." + ts.encode() + b"." + body
    expected = base64.b64encode(hmac.digest(STANDARD_KEY, signed, "sha256")).decode()
    for entry in given.split(" "):
        version, _, sig = entry.partition(",")
        if version == "v1" and hmac.compare_digest(sig, expected):
            return "ok"
    return "bad-signature"


class Receiver(BaseHTTPRequestHandler):
    # HTTP/1.0 (http.server's default): one request per connection.
    def do_POST(self):
        # http.server does not decode chunked bodies: a request without
        # Content-Length is refused (Streem always sends one).
        length = self.headers.get("Content-Length", "")
        if not length.isascii() or not length.isdigit():
            return self.answer(411, "refused no-length")
        if len(length) > 9 or int(length) > MAX_BODY:
            return self.answer(413, "refused too-large")
        body = self.rfile.read(int(length))
        streem = verify_streem(self.headers, body)
        standard = verify_standard(self.headers, body)
        # Both must verify: a real delivery always carries both, made with one
        # key, and each covers something the other does not (Streem's the
        # signed custom headers, Standard Webhooks the webhook-id to dedupe on).
        ok = streem == "ok" and standard == "ok"
        # Your work goes here when ok: dedupe on webhook-id (deliveries are at least once).
        self.answer(204 if ok else 401, f"{'accepted' if ok else 'refused'} streem={streem} standard={standard}")

    def answer(self, status, line):
        print(line, flush=True)
        self.send_response(status)
        self.end_headers()

    do_PUT = do_PATCH = do_POST  # a webhook's method may be any of the three

    def log_message(self, format, *args):
        pass  # one line per request is printed above


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", PORT), Receiver)
    print(f"listening on 127.0.0.1:{PORT}", flush=True)
    server.serve_forever()
