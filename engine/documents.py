"""Documents on a case: an OPP, an expert's advice, a letter from the parents.

A document's bytes are kept once, by their sha256, in a folder outside the web root (``Settings.documents_dir``),
written atomically (a temporary file renamed into place). Its type is decided by its content (magic bytes and, for
the zip-based office formats, the archive's own table of contents), never by its name: a ``.pdf`` that is a
program is refused. Adding one is an action like any other: one transaction that appends a ``document_added``
event (sha256, name, type, size, kind: in the hash chain) and writes the ``documents`` row that lists it. A crash
between writing the bytes and committing leaves an unreferenced blob behind, never a case that names a missing file.

A task form may require documents by kind (``"x-loket-documents": ["opp", "advies"]`` in its JSON Schema):
completing the task before the case holds one of each is refused per kind (422).
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import filetype
from sqlalchemy import select
from sqlalchemy.orm import Session

from . import clock, permissions
from .auth import Actor, require_role
from .errors import Conflict, InvalidData, NotFound, PayloadTooLarge, UnsupportedMediaType
from .models import Case, Document
from .vocabulary import CaseStatus, EventType, Role

if TYPE_CHECKING:
    from .cases import Runtime

# Who may add a document to a case they can read: everyone who works on cases (an auditor only reads, a
# procesbeheerder edits routes, not cases).
UPLOAD_ROLES = (Role.SCHOOL, Role.CONSULENT, Role.COMMISSIE, Role.BESTUURDER, Role.LEERPLICHT, Role.BEHEERDER)

# The types Loket keeps, by media type: (extension, what a user calls it).
PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ODT = "application/vnd.oasis.opendocument.text"
ODS = "application/vnd.oasis.opendocument.spreadsheet"
TYPES: dict[str, tuple[str, str]] = {
    PDF: ("pdf", "PDF"),
    "image/png": ("png", "PNG-afbeelding"),
    "image/jpeg": ("jpg", "JPEG-afbeelding"),
    DOCX: ("docx", "Word-document"),
    XLSX: ("xlsx", "Excel-werkblad"),
    ODT: ("odt", "OpenDocument-tekst"),
    ODS: ("ods", "OpenDocument-werkblad"),
    "application/msword": ("doc", "Word-document (oud formaat)"),
    "application/vnd.ms-excel": ("xls", "Excel-werkblad (oud formaat)"),
}
ALLOWED_IN_WORDS = "PDF, PNG, JPEG, Word (docx, doc), Excel (xlsx, xls) of OpenDocument (odt, ods)"

# The form keyword that names the kinds of document a task needs before it can be completed.
REQUIRED_KEYWORD = "x-loket-documents"
_KIND = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
MAX_NAME = 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")


# ---------------------------------------------------------------- what a file is

def sniff(data: bytes) -> str:
    """The file's media type, read from its content; UnsupportedMediaType (415) for anything Loket does not keep."""
    kind = filetype.guess(data[:8192])
    mime = kind.mime if kind is not None else None
    if mime in ("application/zip", DOCX, XLSX, ODT, ODS, "application/vnd.openxmlformats-officedocument."
                                                          "presentationml.presentation"):
        mime = _zipped_office(data)  # filetype looks at the first entries only; the archive's contents decide
    if mime not in TYPES:
        raise UnsupportedMediaType(
            f"Dit bestandstype wordt niet aangenomen; stuur een {ALLOWED_IN_WORDS}. "
            "Het type wordt bepaald aan de inhoud, niet aan de naam.",
            {"file": [f"Het bestand is geen {ALLOWED_IN_WORDS}."]})
    return mime


def _zipped_office(data: bytes) -> str | None:
    """docx/xlsx (Office Open XML) or odt/ods (OpenDocument) by the archive's own table of contents."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            if "mimetype" in names:
                declared = archive.read("mimetype")[:100].decode("ascii", "replace").strip()
                return declared if declared in (ODT, ODS) else None
    except (zipfile.BadZipFile, OSError, ValueError, KeyError):
        return None
    if "[Content_Types].xml" in names:
        if "word/document.xml" in names:
            return DOCX
        if "xl/workbook.xml" in names:
            return XLSX
    return None


def in_words(size: int) -> str:
    """A number of bytes as a person reads it (20 MB, 350 kB, 12 bytes)."""
    if size >= 1_000_000:
        return f"{size / 1_000_000:.3g} MB".replace(".", ",")
    return f"{size / 1000:.3g} kB".replace(".", ",") if size >= 1000 else f"{size} bytes"


def clean_name(name: str | None, media_type: str) -> str:
    """The name as a person reads it: no folders, no control characters, at most MAX_NAME characters."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = _CONTROL.sub("", base).strip()[:MAX_NAME].strip()
    return base or f"document.{TYPES[media_type][0]}"


def check_kind(kind: str | None) -> str | None:
    if kind in (None, ""):
        return None
    assert kind is not None
    if not _KIND.fullmatch(kind):
        raise InvalidData("Het soort document is niet goed ingevuld.", {
            "kind": ["Gebruik kleine letters, cijfers, - of _ (hoogstens 40 tekens), bv. opp of advies."]})
    return kind


# ---------------------------------------------------------------- where the bytes live

class BlobStore:
    """Files by sha256 under one folder: ``ab/abcdef...``; written once, atomically, never changed."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def path(self, sha256: str) -> Path:
        if not re.fullmatch(r"[0-9a-f]{64}", sha256):
            raise ValueError("geen sha256")
        return self.root / sha256[:2] / sha256

    def put(self, data: bytes) -> str:
        sha256 = hashlib.sha256(data).hexdigest()
        final = self.path(sha256)
        if final.exists():
            # The same bytes are already there (content-addressed). Touched, so that retention, which removes a
            # blob no row references any more, leaves alone one that an upload is about to reference again.
            os.utime(final)
            return sha256
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=final.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, final)  # atomic: a reader sees the whole file or none
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return sha256

    def discard(self, sha256: str, younger_than: float) -> bool:
        """Remove a blob unless it was written or touched after ``younger_than`` (a timestamp): an upload of the
        same bytes may be about to reference it. Whether it was removed."""
        path = self.path(sha256)
        try:
            if path.stat().st_mtime > younger_than:
                return False
            path.unlink()
        except FileNotFoundError:
            return False
        return True


def store(runtime: Runtime) -> BlobStore:
    return BlobStore(runtime.settings.documents_dir)


# ---------------------------------------------------------------- the actions

def add(runtime: Runtime, actor: Actor, case_id: int, *, name: str | None, data: bytes,
        kind: str | None = None) -> Document:
    """Add a document to a case the actor may read and work on: checked, stored, logged as ``document_added``."""
    require_role(actor, *UPLOAD_ROLES)
    limit = runtime.settings.max_document_bytes
    if len(data) > limit:
        raise PayloadTooLarge(f"Het bestand is groter dan {in_words(limit)}.",
                              {"file": [f"Hoogstens {in_words(limit)} per bestand."]})
    if not data:
        raise InvalidData("Het bestand is leeg.", {"file": ["Het bestand is leeg."]})
    kind = check_kind(kind)
    with runtime.db.read() as session:  # scope first: no blob is written for a case the actor cannot see
        _writable(permissions.case_for(session, actor, case_id))
    media_type = sniff(data)
    name = clean_name(name, media_type)
    sha256 = store(runtime).put(data)
    with runtime.action() as session:
        case = _writable(permissions.case_for(session, actor, case_id))
        payload = {"sha256": sha256, "name": name, "type": media_type, "size": len(data), "kind": kind}
        recorder = runtime.recorder
        recorder.record(session, recorder.open(session, case), EventType.DOCUMENT_ADDED, actor, payload=payload)
        document = Document(tenant_id=case.tenant_id, case_id=case.id, event_seq=case.event_seq, sha256=sha256,
                            name=name, media_type=media_type, size=len(data), kind=kind, added_at=clock.now(),
                            added_by=actor.user_id, actor=actor.email)
        session.add(document)
        session.flush()
        return document


def _writable(case: Case) -> Case:
    if case.status == CaseStatus.CLOSED:
        raise Conflict("Dit dossier is gesloten; er kunnen geen documenten meer bij.")
    return case


def list_for(session: Session, actor: Actor, case_id: int) -> list[Document]:
    """The documents of a case the actor may read, oldest first."""
    permissions.case_for(session, actor, case_id)
    return list(session.scalars(select(Document).where(Document.case_id == case_id).order_by(Document.id)))


def of_case(session: Session, case_id: int) -> list[Document]:
    return list(session.scalars(select(Document).where(Document.case_id == case_id).order_by(Document.id)))


def get(session: Session, actor: Actor, document_id: int) -> Document:
    """One document, if the actor may read its case (another SWV's is unknown, another school's forbidden)."""
    document = session.get(Document, document_id)
    if document is None or document.tenant_id != actor.tenant_id:
        raise NotFound(f"Document {document_id} bestaat niet.")
    permissions.case_for(session, actor, document.case_id)
    return document


def forget_case(session: Session, case_id: int) -> list[str]:
    """Retention: remove the case's document rows; the sha256 of each, so the caller can remove the bytes that no
    other row references once this is committed (BlobStore.discard)."""
    rows = of_case(session, case_id)
    for document in rows:
        session.delete(document)
    session.flush()
    return [document.sha256 for document in rows]


def unreferenced(session: Session, shas: Iterable[str]) -> set[str]:
    """Of these sha256, the ones no document row of any case (any SWV: the store is shared) refers to."""
    wanted = set(shas)
    if not wanted:
        return set()
    return wanted - set(session.scalars(select(Document.sha256).where(Document.sha256.in_(wanted)).distinct()))


def blob_path(runtime: Runtime, document: Document) -> Path:
    path = store(runtime).path(document.sha256)
    if not path.is_file():
        raise NotFound("Het bestand van dit document ontbreekt in de opslag; meld het de beheerder.")
    return path


def document_json(document: Document) -> dict[str, Any]:
    return {"id": document.id, "case_id": document.case_id, "seq": document.event_seq, "sha256": document.sha256,
            "name": document.name, "type": document.media_type, "size": document.size, "kind": document.kind,
            "added_at": document.added_at.isoformat(), "added_by": document.actor}


# ---------------------------------------------------------------- documents a task needs

def required(form: dict[str, Any] | None) -> list[str]:
    """The kinds of document a form needs (its ``x-loket-documents``)."""
    kinds = (form or {}).get(REQUIRED_KEYWORD) or []
    return [k for k in kinds if isinstance(k, str)]


def presence(kinds: Iterable[str], documents: Iterable[Document]) -> dict[str, bool]:
    """Per needed kind: does the case hold one."""
    held = {d.kind for d in documents}
    return {kind: kind in held for kind in kinds}


def require(session: Session, case_id: int, form: dict[str, Any] | None) -> None:
    """InvalidData (422) naming each kind of document the form needs and the case does not hold yet."""
    kinds = required(form)
    if not kinds:
        return
    present = presence(kinds, of_case(session, case_id))
    missing = {f"documenten.{kind}": [f"Voeg eerst een document van het soort '{kind}' toe aan het dossier."]
               for kind, ok in present.items() if not ok}
    if missing:
        raise InvalidData("Er ontbreken documenten bij dit dossier.", missing)
