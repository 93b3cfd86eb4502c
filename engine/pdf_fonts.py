"""The fonts of Loket's PDF reports, and text made printable in them.

The report is set in Noto (OFL-1.1, from PyPI packages): Noto Sans for Latin, Greek and Cyrillic, with Noto Sans
Arabic and Noto Sans SC as fallbacks, so a pupil's name prints in its own script. Arabic needs shaping (HarfBuzz,
via uharfbuzz). Noto Sans SC has no bold: bold Chinese prints regular.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import tempfile
import threading
import unicodedata
from importlib import resources
from pathlib import Path
from typing import Any

import uharfbuzz as hb  # type: ignore[import-untyped]  # ships no type information

FAMILY, ARABIC, CJK = "NotoSans", "NotoSansArabic", "NotoSansSC"
_VARIABLE = {FAMILY: ("fontpkg_noto_sans", "files/NotoSans[wdth,wght].ttf"),
             ARABIC: ("fontpkg_noto_sans_arabic", "files/NotoSansArabic[wdth,wght].ttf")}
_STATIC = {CJK: ("pylopdf_fonts_zh_cn", "NotoSansSC-Regular.otf")}
_WEIGHTS = {"": ("Regular", 400), "B": ("Bold", 700)}

_fonts_lock = threading.Lock()
_fonts: dict[int, dict[tuple[str, str], Path]] = {}


def font_files() -> dict[tuple[str, str], Path]:
    """(family, style) -> a static font file. The packages ship variable fonts; fpdf2's own instancer (fontTools)
    takes seconds per weight, HarfBuzz milliseconds, so each weight is instanced once per process into a
    private temporary folder (per process: a forked worker must not delete its parent's files on exit)."""
    with _fonts_lock:
        pid = os.getpid()
        # Made again if a temp cleaner (systemd-tmpfiles) removed them under a long-running server.
        if pid not in _fonts or not all(path.exists() for path in _fonts[pid].values()):
            folder = Path(tempfile.mkdtemp(prefix="loket-fonts-"))
            atexit.register(_remove_fonts, folder, pid)
            files: dict[tuple[str, str], Path] = {}
            for family, (package, name) in _VARIABLE.items():
                face = hb.Face(hb.Blob.from_file_path(str(resources.files(package) / name)))
                for style, (label, weight) in _WEIGHTS.items():
                    target = folder / f"{family}-{label}.ttf"
                    target.write_bytes(_instance(face, weight))
                    files[(family, style)] = target
            for family, (package, name) in _STATIC.items():
                files[(family, "")] = Path(str(resources.files(package) / name))
            _fonts[pid] = files
        return _fonts[pid]


def _instance(face: Any, weight: int) -> bytes:
    plan = hb.SubsetInput()
    plan.keep_everything()  # every glyph and every layout table: only the axes are pinned
    plan.pin_axis_location(face, "wght", weight)
    plan.pin_axis_location(face, "wdth", 100)
    return bytes(hb.subset(face, plan).blob.data)


def _remove_fonts(folder: Path, pid: int) -> None:
    if os.getpid() == pid:
        shutil.rmtree(folder, ignore_errors=True)


@functools.cache
def _covered() -> frozenset[int]:
    """Every code point one of the report's fonts has a glyph for."""
    points: set[int] = set()
    for path in font_files().values():
        points.update(hb.Face(hb.Blob.from_file_path(str(path))).unicodes)
    return frozenset(points)


@functools.cache
def _family_points(family: str) -> frozenset[int]:
    return frozenset(hb.Face(hb.Blob.from_file_path(str(font_files()[(family, "")]))).unicodes)


def fallbacks_for(text: str) -> list[str]:
    """The fallback families (Arabic, Chinese) that ``text`` needs: a document that embeds them for nothing costs
    most of a second to write (subsetting the CJK font), so a letter in Latin script leaves them out."""
    latin = _family_points(FAMILY)
    needed = {ord(char) for char in text} - latin
    return [family for family in (ARABIC, CJK) if needed & _family_points(family)]


def printable(text: Any) -> str:
    """Text as the report can print it: a character that no embedded font has (Korean, emoji, a control
    character, a lone surrogate) is named by its code point rather than dropped or printed as "?"; the
    JSON export holds the exact value."""
    covered = _covered()
    out = []
    for char in str(text).replace("\r\n", "\n").replace("\r", "\n").replace("\t", " "):
        point = ord(char)
        if char == "\n" or (point in covered and unicodedata.category(char) not in ("Cc", "Cs")):
            out.append(char)
        else:
            out.append(f"[U+{point:04X}]")
    return "".join(out)


# The OpenType layout tables: HarfBuzz shapes the text from the font file itself, and fpdf2 leaves these tables
# out of the subset it embeds; but fontTools (4.6x) reads them all before it drops them, most of a letter's time.
_LAYOUT_TABLES = ("GDEF", "GSUB", "GPOS")


def output(pdf: Any) -> bytes:
    """The document's bytes (fpdf2's ``output``), each embedded font first rid of the tables it would not embed:
    the same bytes, written in a fraction of the time."""
    for font in pdf.fonts.values():
        ttfont = getattr(font, "ttfont", None)  # core fonts have none
        if ttfont is None:
            continue
        for tag in _LAYOUT_TABLES:
            if tag in ttfont:
                del ttfont[tag]
    return bytes(pdf.output())

