"""PDF reports: rewritten without metadata, annotations, forms, attachments or scripts; their
text extracted and checked; rejected, or re-rendered as an image PDF with the identifying
words masked, when that text holds identifying values (text in a PDF cannot be edited in
place reliably).

Text comes from PDFium (``pypdfium2``), which also renders pages and gives each character's
box; ``pypdf`` rewrites the document so only reachable objects of its last revision remain
(earlier revisions of an edited PDF may still hold the removed text). Pictures inside a PDF
are not read: a page with pictures and no text cannot be checked and is refused.
"""

from __future__ import annotations

import ctypes
import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pypdfium2 as pdfium  # type: ignore[import-untyped]
import pypdfium2.raw as pdfium_c  # type: ignore[import-untyped]
from PIL import Image, ImageDraw
from pypdf import PdfReader, PdfWriter
from pypdf.errors import PyPdfError

from anonymizer.errors import LeakDetected, VerificationFailed
from anonymizer.reports.errors import ReportError, ReportReason
from anonymizer.reports.options import PdfPolicy
from anonymizer.reports.redact import Redactor

logger = logging.getLogger(__name__)

# Catalogue entries that hold text or actions beside the pages: bookmarks, named
# destinations, attachments and scripts (/Names), forms, tagged-structure alternate texts,
# page labels, XMP metadata.
_ROOT_KEYS = (
    "/Metadata",
    "/AcroForm",
    "/Names",
    "/Outlines",
    "/OpenAction",
    "/AA",
    "/StructTreeRoot",
    "/MarkInfo",
    "/PageLabels",
    "/PieceInfo",
    "/SpiderInfo",
    "/Threads",
    "/URI",
    "/Dests",
    "/Collection",
)
_PAGE_KEYS = ("/Annots", "/Metadata", "/PieceInfo", "/AA", "/Thumb", "/B")
_IMAGE_OBJECT = 3  # FPDF_PAGEOBJ_IMAGE
_MASK_PADDING = 2


@dataclass
class PdfOutcome:
    """The de-identified PDF and what was done to it."""

    data: bytes
    rasterized: bool = False
    masked: int = 0
    warnings: list[str] = field(default_factory=list)


def deidentify_pdf(
    data: bytes, redactor: Redactor, *, policy: PdfPolicy, dpi: int, max_pages: int
) -> PdfOutcome:
    """Sanitize ``data`` and check its text; reject or rasterize as ``policy`` says."""
    sanitized = sanitize_pdf(data, max_pages=max_pages)
    warnings: list[str] = []
    findings: dict[int, list[str]] = {}
    with _document(sanitized) as doc:
        for number, page in enumerate(_pages(doc), 1):
            text, has_images = _page_text(page)
            if not text.strip() and has_images:
                raise VerificationFailed(
                    f"page {number} has pictures and no text: it cannot be checked"
                )
            if has_images and "pdf_pictures_not_checked" not in warnings:
                warnings.append("pdf_pictures_not_checked")
            kinds = [s.kind for s, _ in redactor.spans(text) if not redactor.is_own(text, s)]
            if kinds:
                findings[number] = sorted(set(kinds))
    if not findings:
        return PdfOutcome(sanitized, warnings=warnings)
    if policy is PdfPolicy.REJECT:
        raise LeakDetected([f"page {n} ({', '.join(k)})" for n, k in sorted(findings.items())])
    rendered, masked = rasterize_pdf(sanitized, redactor, dpi=dpi)
    warnings.append("pdf_rasterized")
    return PdfOutcome(rendered, rasterized=True, masked=masked, warnings=warnings)


def sanitize_pdf(data: bytes, *, max_pages: int) -> bytes:
    """The document rewritten without metadata, annotations, forms, attachments, scripts."""
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            raise ReportError(ReportReason.MALFORMED, "encrypted PDFs cannot be checked")
        if len(reader.pages) > max_pages:
            raise ReportError(ReportReason.MALFORMED, f"the PDF has more than {max_pages} pages")
        writer = PdfWriter(clone_from=reader)
        writer.metadata = None
        root = writer.root_object
        for key in _ROOT_KEYS:
            root.pop(key, None)
        for page in writer.pages:
            for key in _PAGE_KEYS:
                page.pop(key, None)
        out = io.BytesIO()
        writer.write(out)
    except ReportError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
        raise ReportError(
            ReportReason.MALFORMED, f"the PDF cannot be read ({type(exc).__name__})"
        ) from None
    return out.getvalue()


def pdf_page_texts(data: bytes) -> list[str]:
    """The text of each page, as PDFium extracts it."""
    with _document(data) as doc:
        return [_page_text(page)[0] for page in _pages(doc)]


def verify_pdf(data: bytes, redactor: Redactor) -> None:
    """Raise unless the output PDF is clean: no metadata, attachments, annotations or forms,
    and no identifying value in any page's text."""
    with _document(data) as doc:
        metadata = {k: v for k, v in doc.get_metadata_dict().items() if v}
        metadata.pop("Producer", None)
        metadata.pop("CreationDate", None)
        metadata.pop("ModDate", None)
        if metadata:
            raise VerificationFailed(f"the PDF still has metadata ({', '.join(sorted(metadata))})")
        if doc.count_attachments():
            raise VerificationFailed("the PDF still has attachments")
        places = []
        for number, page in enumerate(_pages(doc), 1):
            if pdfium_c.FPDFPage_GetAnnotCount(page.raw):
                raise VerificationFailed(f"page {number} still has annotations")
            text, _ = _page_text(page)
            kinds = redactor.leaks(text)
            if kinds:
                places.append(f"page {number} ({', '.join(sorted(set(kinds)))})")
        if places:
            raise LeakDetected(places)


def rasterize_pdf(data: bytes, redactor: Redactor, *, dpi: int) -> tuple[bytes, int]:
    """Each page as a picture with every identifying word painted over; an image PDF."""
    images: list[Image.Image] = []
    masked = 0
    with _document(data) as doc:
        for page in _pages(doc):
            text, boxes = _page_chars(page)
            bitmap = page.render(scale=dpi / 72, draw_annots=False, may_draw_forms=False)
            image: Image.Image = bitmap.to_pil().convert("RGB")
            draw = ImageDraw.Draw(image)
            for span, _ in redactor.spans(text):
                if redactor.is_own(text, span):
                    continue
                masked += 1
                redactor.counts[span.kind] += 1
                for rect in _line_boxes(boxes[span.start : span.end]):
                    draw.rectangle(_device_box(page, size=image.size, box=rect), fill="black")
            images.append(image)
    if not images:
        raise ReportError(ReportReason.MALFORMED, "the PDF has no pages")
    out = io.BytesIO()
    images[0].save(
        out,
        "PDF",
        save_all=True,
        append_images=images[1:],
        resolution=float(dpi),
        quality=90,
        creationDate=None,  # no time stamp: the same input gives the same bytes
        modDate=None,
    )
    return out.getvalue(), masked


@contextmanager
def _document(data: bytes) -> Iterator[Any]:
    try:
        doc = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        raise ReportError(
            ReportReason.MALFORMED, f"the PDF cannot be opened ({type(exc).__name__})"
        ) from None
    try:
        yield doc
    finally:
        doc.close()


def _pages(doc: Any) -> Iterator[Any]:
    for index in range(len(doc)):
        page = doc[index]
        try:
            yield page
        finally:
            page.close()


def _page_text(page: Any) -> tuple[str, bool]:
    text, _ = _page_chars(page)
    has_images = any(
        pdfium_c.FPDFPageObj_GetType(pdfium_c.FPDFPage_GetObject(page.raw, i)) == _IMAGE_OBJECT
        for i in range(pdfium_c.FPDFPage_CountObjects(page.raw))
    )
    return text, has_images


def _page_chars(page: Any) -> tuple[str, list[tuple[float, float, float, float] | None]]:
    """The page's characters, one per PDFium char index, and each one's box (or None)."""
    textpage = page.get_textpage()
    try:
        count = textpage.count_chars()
        chars = []
        boxes: list[tuple[float, float, float, float] | None] = []
        for index in range(count):
            chars.append(chr(pdfium_c.FPDFText_GetUnicode(textpage.raw, index)))
            left, bottom, right, top = textpage.get_charbox(index)
            boxes.append((left, bottom, right, top) if right > left and top > bottom else None)
    finally:
        textpage.close()
    return "".join(chars), boxes


def _line_boxes(
    boxes: list[tuple[float, float, float, float] | None],
) -> list[tuple[float, float, float, float]]:
    """Character boxes merged into one box per line, so no gap is left between letters."""
    merged: list[tuple[float, float, float, float]] = []
    for box in boxes:
        if box is None:
            continue
        if merged:
            left, bottom, right, top = merged[-1]
            middle = (box[1] + box[3]) / 2
            if bottom <= middle <= top or box[1] <= (bottom + top) / 2 <= box[3]:
                merged[-1] = (
                    min(left, box[0]),
                    min(bottom, box[1]),
                    max(right, box[2]),
                    max(top, box[3]),
                )
                continue
        merged.append(box)
    return merged


def _device_box(
    page: Any, *, size: tuple[int, int], box: tuple[float, float, float, float]
) -> tuple[int, int, int, int]:
    """A character box in page space as a padded rectangle in the rendered picture."""
    left, bottom, right, top = box
    xs, ys = [], []
    for x, y in ((left, bottom), (right, top)):
        dx, dy = ctypes.c_int(), ctypes.c_int()
        pdfium_c.FPDF_PageToDevice(
            page.raw, 0, 0, size[0], size[1], 0, x, y, ctypes.byref(dx), ctypes.byref(dy)
        )
        xs.append(dx.value)
        ys.append(dy.value)
    pad = _MASK_PADDING
    return min(xs) - pad, min(ys) - pad, max(xs) + pad, max(ys) + pad
