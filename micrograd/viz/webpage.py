"""Self-contained HTML pages (the backprop stepper, the training replay): one way to embed data,
fill a template and hand the written page back.

- ``script_json(data)``: JSON that is safe inside ``<script>``. There ``</script>`` ends the script
  and ``<!--`` opens a comment state that can swallow it; JSON strings may spell any character as
  ``\\uXXXX``, so no ``<``, ``>`` or ``&`` reaches the HTML parser (nor U+2028/9, for old
  JavaScript engines). No label or title can change the page's structure.
- ``fill(template, parts)``: every placeholder replaced in one pass, so a label that reads
  ``__DATA__`` stays text.
- ``write_page(path, text)`` writes atomically and returns a ``Page``: a ``pathlib.Path`` (callers
  that want the path keep working) that a notebook shows inline (``_repr_html_``: an iframe whose
  ``srcdoc`` holds the page).
"""

from __future__ import annotations

import html
import json
import os
import re
from pathlib import Path

from micrograd._files import write_text

# how every page begins: its title (a placeholder) and the shared look; each page adds its own CSS
PAGE_HEAD = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>__TITLE__</title>
<style>
body { font-family: system-ui, sans-serif; margin: 16px; color: #222; }
h1 { font-size: 20px; margin: 0 0 8px 0; }
"""

_SCRIPT_ESCAPES = (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029"))


def script_json(data) -> str:
    """json.dumps(data) with <, >, & (and U+2028/9) written as \\u escapes. NaN and infinities are
    written as JavaScript's NaN / Infinity (the page's script reads the data as a literal)."""
    text = json.dumps(data, separators=(",", ":"))
    for ch, code in _SCRIPT_ESCAPES:
        text = text.replace(ch, code)
    return text


def fill(template: str, parts: dict[str, str]) -> str:
    """template with each key of parts replaced by its value, in one pass."""
    return re.sub("|".join(map(re.escape, parts)), lambda m: parts[m[0]], template)


class Page(type(Path())):
    """The path of a written page; in a notebook it shows the page inline."""

    @property
    def path(self) -> Path:
        return Path(self)

    def _repr_html_(self) -> str:
        page = self.read_text(encoding="utf-8")
        # srcdoc is an attribute value: html.escape (quote=True) turns & < > " ' into entities, so the
        # page cannot end the attribute; the iframe parses it back into the very page
        return (
            f'<iframe srcdoc="{html.escape(page, quote=True)}" title="{html.escape(self.name)}" '
            f'style="width: 100%; height: 720px; border: 1px solid #ddd;"></iframe>'
        )


def write_page(path: str | os.PathLike, text: str) -> Page:
    """Write text to path atomically (a failed write keeps the old file); returns it as a Page."""
    page = Page(path)
    page.parent.mkdir(parents=True, exist_ok=True)
    write_text(page, text)
    return page
