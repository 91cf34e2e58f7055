"""QR codes of the community report forms (segno: pure Python, PNG and SVG)."""

from __future__ import annotations

import io

import segno

#: error correction "M" (15 %) survives a smudged or partly torn poster
ERROR = "m"


def png(url: str, *, scale: int = 10, border: int = 4) -> bytes:
    out = io.BytesIO()
    segno.make(url, error=ERROR, micro=False).save(out, kind="png", scale=scale, border=border)
    return out.getvalue()


def svg(url: str, *, scale: int = 10, border: int = 4, inline: bool = False) -> str:
    """The code as SVG; ``inline`` leaves out the XML declaration and sizes it by its viewBox (for HTML)."""
    out = io.BytesIO()
    segno.make(url, error=ERROR, micro=False).save(
        out,
        kind="svg",
        scale=scale,
        border=border,
        xmldecl=not inline,
        svgns=True,
        omitsize=inline,
        svgclass="qr",
        lineclass=None,
        title=None,
    )
    return out.getvalue().decode("utf-8")
