"""A self-contained HTML report: headings, text, tables and base64-embedded PNG figures.

    report = HtmlReport("Variability study")
    report.heading("Mean error")
    report.table(["train \\ test", "none"], [["none", "1.2"]])
    report.image("figure.png", "The caption.")
    report.write("report.html")

The page has no external references (no scripts, styles or image files), so
it can be mailed, archived or opened from anywhere.
"""

from __future__ import annotations

import base64
import html
import os
import time

STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto;
       max-width: 1150px; padding: 0 1em; color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; border-bottom: 2px solid #ddd; padding-bottom: .2em; }
h2 { font-size: 1.25em; margin-top: 1.8em; border-bottom: 1px solid #eee; }
table { border-collapse: collapse; margin: .8em 0; font-size: .92em; }
th, td { border: 1px solid #ccc; padding: .3em .6em; text-align: right; }
th { background: #f4f4f4; } td:first-child, th:first-child { text-align: left; }
td.best { font-weight: bold; background: #eef7ee; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: .9em; color: #555; }
pre { background: #f7f7f7; padding: .6em; overflow-x: auto; font-size: .85em; }
.note { color: #8a5a00; }
"""


class HtmlReport:
    """Builds one HTML page; every method appends a block in order.

    Args:
        title: the page title and top heading.
    """

    def __init__(self, title: str) -> None:
        self.title = title
        self._blocks: list[str] = []

    def heading(self, text: str, level: int = 2) -> HtmlReport:
        self._blocks.append(f"<h{level}>{html.escape(text)}</h{level}>")
        return self

    def paragraph(self, text: str, css_class: str = "") -> HtmlReport:
        attribute = f' class="{css_class}"' if css_class else ""
        self._blocks.append(f"<p{attribute}>{html.escape(text)}</p>")
        return self

    def link(self, href: str, text: str) -> HtmlReport:
        """A paragraph with one link (e.g. to a report beside this one)."""
        self._blocks.append(f'<p><a href="{html.escape(href)}">{html.escape(text)}</a></p>')
        return self

    def preformatted(self, text: str) -> HtmlReport:
        self._blocks.append(f"<pre>{html.escape(text)}</pre>")
        return self

    def table(
        self,
        header: list[str],
        rows: list[list],
        caption: str = "",
        highlight: set[tuple[int, int]] | None = None,
    ) -> HtmlReport:
        """A table; `highlight` holds (row, column) cells to mark (e.g. the best of a column)."""
        highlight = highlight or set()
        parts = ["<table>"]
        if caption:
            parts.append(f"<caption>{html.escape(caption)}</caption>")
        parts.append("<tr>" + "".join(f"<th>{html.escape(str(h))}</th>" for h in header) + "</tr>")
        for r, row in enumerate(rows):
            cells = "".join(
                f"<td{' class=best' if (r, c) in highlight else ''}>{html.escape(str(v))}</td>"
                for c, v in enumerate(row)
            )
            parts.append(f"<tr>{cells}</tr>")
        parts.append("</table>")
        self._blocks.append("\n".join(parts))
        return self

    def image(self, source: str | bytes, caption: str = "") -> HtmlReport:
        """A PNG embedded as base64 (`source`: a file path or the PNG bytes); missing files are noted."""
        if isinstance(source, str):
            from headsynth.core.io_utils import file_exists, read_bytes  # TensorFlow's gfile: local and GCS

            if not file_exists(source):
                return self.paragraph(f"(figure {os.path.basename(source)} was not produced)", "note")
            data = read_bytes(source)
        else:
            data = source
        encoded = base64.b64encode(data).decode("ascii")
        figure = f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{encoded}">'
        if caption:
            figure += f"<figcaption>{html.escape(caption)}</figcaption>"
        self._blocks.append(figure + "</figure>")
        return self

    def render(self) -> str:
        """The whole page as a string."""
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        body = "\n".join(self._blocks)
        return (
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{html.escape(self.title)}</title><style>{STYLE}</style></head>\n<body>\n"
            f"<h1>{html.escape(self.title)}</h1>\n{body}\n"
            f'<p class="note">Written by headsynth on {stamp}.</p>\n</body></html>\n'
        )

    def write(self, path: str | os.PathLike) -> str:
        """Writes the page atomically; returns its absolute path (a URI such as gs://... as it is)."""
        from headsynth.core.io_utils import absolute, write_text_atomic

        write_text_atomic(path, self.render())
        return absolute(path)


def format_ci(summary: dict, digits: int = 3) -> str:
    """'mean [low, high]' from a dict with mean, ci95_low, ci95_high ("n/a" for missing values)."""
    from headsynth.report.values import fmt

    if fmt(summary["mean"]) == "n/a":
        return "n/a"
    low, high = fmt(summary["ci95_low"], digits), fmt(summary["ci95_high"], digits)
    return f"{fmt(summary['mean'], digits)} [{low}, {high}]"
