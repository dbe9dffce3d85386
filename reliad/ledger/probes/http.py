"""`http`: a GET of a URL answers with the expected status (and, optionally, a body that contains
a given text) within the timeout. TLS certificates are verified unless `tls_verify = false`;
redirects are not followed, so the probe checks exactly the URL it was given."""

from __future__ import annotations

import ssl
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

from reliad.ledger.probes.base import ProbeFailed, ProbeType

BODY_LIMIT = 1 << 20


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _opener(options: Mapping[str, Any]) -> urllib.request.OpenerDirector:
    if options.get("tls_verify", True):
        ctx = ssl.create_default_context(cafile=options.get("ca_file"))
    else:
        ctx = ssl._create_unverified_context()  # the operator turned verification off for this probe
    return urllib.request.build_opener(_NoRedirect, urllib.request.HTTPSHandler(context=ctx))


def check(options: Mapping[str, Any], timeout: float) -> str:
    url = options["url"]
    wanted = options.get("status", 200)
    wanted = set(wanted) if isinstance(wanted, list) else {wanted}
    req = urllib.request.Request(url, headers={"User-Agent": "reliad-probe"})
    try:
        with _opener(options).open(req, timeout=timeout) as resp:
            status, body = resp.status, resp.read(BODY_LIMIT)
    except urllib.error.HTTPError as e:
        status, body = e.code, e.read(BODY_LIMIT)
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise ProbeFailed(f"GET {url}: {reason}") from None
    if status not in wanted:
        raise ProbeFailed(f"GET {url}: status {status}, expected {' or '.join(map(str, sorted(wanted)))}")
    text = options.get("contains")
    if text is not None and text.encode() not in body:
        raise ProbeFailed(f"GET {url}: status {status} but the body lacks {text!r}")
    return f"status {status}"


TYPE = ProbeType(name="http", check=check)
