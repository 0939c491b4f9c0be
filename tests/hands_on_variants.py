"""The Hands-On description (examples/hands_on.yaml) and the variants tests compare with it,
made by substitution so that the example stays their one source."""
from __future__ import annotations

import re
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def hands_on_text() -> str:
    """The example as shipped: an async API on a pool that waits forever (pg.Pool)."""
    return (EXAMPLES / "hands_on.yaml").read_text()


def threaded(text: str) -> str:
    """The API thread-per-request (Tomcat, Spring MVC) on HikariCP's default 30 s wait."""
    assert "    concurrency: async\n" in text and "connectionTimeout: 0s " in text
    text = text.replace("    concurrency: async\n", "    concurrency: threadPerRequest\n")
    return text.replace("connectionTimeout: 0s ", "connectionTimeout: 30s ")


def with_connection_timeout(text: str, timeout: str) -> str:
    """The pool's connectionTimeout set to `timeout` (e.g. "30s", HikariCP's default)."""
    assert "connectionTimeout: 0s " in text
    return text.replace("connectionTimeout: 0s ", f"connectionTimeout: {timeout} ")


def without_cache(text: str) -> str:
    """The Hands-On system with its Redis cache taken out (api calls the database)."""
    text = re.sub(r"\n  cache:\n(    .*\n)+", "\n", text)
    text = text.replace("  - {from: api, to: cache}\n", "  - {from: api, to: db}\n")
    return re.sub(r"  - \{from: cache, to: db\}.*\n?", "", text)
