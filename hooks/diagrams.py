"""Each Mermaid diagram sits in a box that scrolls sideways: on a phone it keeps a readable size.

Material replaces each `<pre class="mermaid">` with the rendered diagram in place, inside this box;
docs/assets/stylesheets/layout.css gives the diagram a minimum width on narrow screens.
"""

from __future__ import annotations

import re

MERMAID = re.compile(r'<pre\s+class="mermaid">.*?</pre>', re.S)
BOX = '<div class="diagram-scroll">{}</div>'


def wrap_diagrams(html: str) -> str:
    """The page's HTML with every Mermaid block inside a scrolling box."""
    return MERMAID.sub(lambda match: BOX.format(match.group(0)), html)


def on_page_content(html, page, config, files):
    return wrap_diagrams(html)
