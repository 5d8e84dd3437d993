"""API tokens for deploy: from an environment variable, else a file; never from the command line
(where they would sit in shell history and ``ps``), and never printed."""

from __future__ import annotations

import os
import re
from pathlib import Path

from obstack.stack.deploy.errors import DeployError

# What an HTTP header value may hold: one line of visible ASCII. Anything else would make the
# HTTP library refuse the header with a message quoting it, token and all.
_TOKEN_RE = re.compile(r"^[\x21-\x7e]+$")


def token_from(env: str, token_file: str | None, what: str) -> str | None:
    """The token in ``env``, else the content of ``token_file``; None when neither is given.
    ``what`` names the server in messages (e.g. "Grafana"); no message shows the token."""
    token = os.environ.get(env, "").strip()
    source = env
    if not token and token_file:
        try:
            token = Path(token_file).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as error:
            reason = error.strerror if isinstance(error, OSError) else "not UTF-8 text"
            raise DeployError(f"{token_file}: cannot read the {what} token file: {reason}") from None
        if not token:
            raise DeployError(f"{token_file}: the {what} token file is empty")
        source = token_file
    if not token:
        return None
    if not _TOKEN_RE.match(token):
        raise DeployError(f"{source}: the {what} token must be one line of visible characters, without spaces")
    return token
