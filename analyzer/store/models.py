"""The store's tables as a typed SQLAlchemy 2 ORM (see docs/store.md).

Datetimes are stored as **wall-clock** times without zone (what the phone showed), with the UTC
offset in minutes beside them when it is known; days since treatment are computed on wall-clock
times, as :class:`analyzer.recovery.Treatment` does.  Only portable column types are used (no
SQLite-only SQL), so the same schema runs on PostgreSQL.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from ..vocab import CONSENT_SCOPES, ROLES

__all__ = [
    "CONSENT_KINDS",
    "Analysis",
    "Assignment",
    "AuditEvent",
    "Base",
    "Consent",
    "ExportRecord",
    "ImportFailure",
    "Invite",
    "Observation",
    "Patient",
    "Photo",
    "Secret",
    "SymptomEntry",
    "Treatment",
    "User",
    "WebSession",
]

CONSENT_KINDS = CONSENT_SCOPES
"""The scopes a consent can have (:data:`analyzer.vocab.CONSENT_SCOPES`; the column is ``kind``)."""

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base with deterministic constraint names (shared with the migrations)."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}  # noqa: RUF012 - SQLAlchemy API


class Patient(Base):
    """A patient, known by a pseudonym; the display name is optional and never exported
    de-identified."""

    __tablename__ = "patient"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pseudonym: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime)

    treatments: Mapped[list[Treatment]] = relationship(back_populates="patient", cascade="all, delete-orphan")
    photos: Mapped[list[Photo]] = relationship(back_populates="patient", cascade="all, delete-orphan")
    symptoms: Mapped[list[SymptomEntry]] = relationship(back_populates="patient", cascade="all, delete-orphan")
    consents: Mapped[list[Consent]] = relationship(back_populates="patient", cascade="all, delete-orphan")
    failures: Mapped[list[ImportFailure]] = relationship(back_populates="patient", cascade="all, delete-orphan")


class Treatment(Base):
    """One micro-needling session (wall-clock ``treated_at``)."""

    __tablename__ = "treatment"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id", ondelete="CASCADE"), index=True)
    treated_at: Mapped[datetime] = mapped_column(DateTime)
    utc_offset_min: Mapped[int | None] = mapped_column(Integer)
    needle_depth_mm: Mapped[float] = mapped_column(Float)
    areas: Mapped[list[Any]] = mapped_column(JSON)
    protocol: Mapped[str] = mapped_column(String(64))

    patient: Mapped[Patient] = relationship(back_populates="treatments")
    __table_args__ = (UniqueConstraint("patient_id", "treated_at", name="uq_treatment_patient_time"),)


class Photo(Base):
    """One photo of a patient, identified by the SHA-256 of the original bytes.

    ``stored_path`` is relative to the data directory (``photos/<keyed name>.jpg``, see
    docs/store.md): a re-encoded copy with all metadata removed.
    """

    __tablename__ = "photo"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id", ondelete="CASCADE"), index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    captured_at: Mapped[datetime | None] = mapped_column(DateTime)
    utc_offset_min: Mapped[int | None] = mapped_column(Integer)
    original_name: Mapped[str] = mapped_column(String(500))
    stored_path: Mapped[str] = mapped_column(String(200))
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    imported_at: Mapped[datetime] = mapped_column(DateTime)

    patient: Mapped[Patient] = relationship(back_populates="photos")
    analyses: Mapped[list[Analysis]] = relationship(
        back_populates="photo", cascade="all, delete-orphan", order_by="Analysis.id"
    )
    __table_args__ = (UniqueConstraint("patient_id", "sha256", name="uq_photo_patient_sha256"),)


class Analysis(Base):
    """One analysis of a photo by one analyzer version."""

    __tablename__ = "analysis"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    photo_id: Mapped[int] = mapped_column(ForeignKey("photo.id", ondelete="CASCADE"), index=True)
    analyzer_version: Mapped[str] = mapped_column(String(32))
    analysed_at: Mapped[datetime] = mapped_column(DateTime)
    quality_ok: Mapped[bool] = mapped_column(Boolean)
    quality_issues: Mapped[list[Any]] = mapped_column(JSON)
    calibration_method: Mapped[str | None] = mapped_column(String(64))
    chart_found: Mapped[bool | None] = mapped_column(Boolean)
    residual_delta_e00: Mapped[float | None] = mapped_column(Float)
    scale_px_per_mm: Mapped[float | None] = mapped_column(Float)
    light_reference: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    """The eyes' reference colours (:meth:`analyzer.result.LightReference.to_dict`); None before
    migration 0002 or when no eye was measured."""

    photo: Mapped[Photo] = relationship(back_populates="analyses")
    observations: Mapped[list[Observation]] = relationship(
        back_populates="analysis", cascade="all, delete-orphan"
    )
    __table_args__ = (UniqueConstraint("photo_id", "analyzer_version", name="uq_analysis_photo_version"),)


class Observation(Base):
    """One number, in long form: region x variable x method, with its unit."""

    __tablename__ = "observation"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    analysis_id: Mapped[int] = mapped_column(ForeignKey("analysis.id", ondelete="CASCADE"), index=True)
    region: Mapped[str] = mapped_column(String(32))
    variable: Mapped[str] = mapped_column(String(32))
    method: Mapped[str] = mapped_column(String(64))
    unit: Mapped[str] = mapped_column(String(32))
    value: Mapped[float] = mapped_column(Float)

    analysis: Mapped[Analysis] = relationship(back_populates="observations")
    __table_args__ = (
        UniqueConstraint("analysis_id", "region", "variable", "method", name="uq_observation_key"),
    )


class SymptomEntry(Base):
    """One row of the symptom diary (see :mod:`analyzer.recovery.symptoms`)."""

    __tablename__ = "symptom_entry"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime)
    symptom: Mapped[str] = mapped_column(String(32))
    level: Mapped[int] = mapped_column(Integer)

    patient: Mapped[Patient] = relationship(back_populates="symptoms")


class Consent(Base):
    """A consent as a record: its scope (``kind``: care or research), the version of the text the
    patient agreed to, who recorded it and when, and when and by whom it was withdrawn."""

    __tablename__ = "consent"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    given_at: Mapped[datetime] = mapped_column(DateTime)
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime)
    text_version: Mapped[str | None] = mapped_column(String(32))
    """The consent text's version (:data:`analyzer.service.consent.CONSENT_TEXTS`); None for
    consents recorded before migration 0003."""
    recorded_by: Mapped[str | None] = mapped_column(String(200))
    withdrawn_by: Mapped[str | None] = mapped_column(String(200))

    patient: Mapped[Patient] = relationship(back_populates="consents")
    __table_args__ = (CheckConstraint("kind IN ('care', 'research')", name="kind"),)


class ImportFailure(Base):
    """A photo that could not be imported, with the reason (kept until it imports)."""

    __tablename__ = "import_failure"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id", ondelete="CASCADE"), index=True)
    source: Mapped[str] = mapped_column(String(500))
    sha256: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    analyzer_version: Mapped[str] = mapped_column(String(32))
    failed_at: Mapped[datetime] = mapped_column(DateTime)

    patient: Mapped[Patient] = relationship(back_populates="failures")


# --- accounts, the audit trail and the export register (migration 0003) -------------------------

_ROLE_CHECK = "role IN (" + ", ".join(f"'{r}'" for r in ROLES) + ")"


class User(Base):
    """An account: a built-in one (argon2id ``password_hash``) or one that signs in through the
    clinic's identity provider (``oidc_subject``).  A patient's account is tied to one patient."""

    __tablename__ = "app_user"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    login: Mapped[str] = mapped_column(String(200), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    oidc_subject: Mapped[str | None] = mapped_column(String(300), unique=True)
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patient.id", ondelete="SET NULL"), index=True)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    password_changed_at: Mapped[datetime | None] = mapped_column(DateTime)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime)

    patient: Mapped[Patient | None] = relationship()
    __table_args__ = (CheckConstraint(_ROLE_CHECK, name="role"),)


class Assignment(Base):
    """A patient in a practitioner's caseload."""

    __tablename__ = "assignment"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id", ondelete="CASCADE"), index=True)
    __table_args__ = (UniqueConstraint("user_id", "patient_id", name="uq_assignment_user_patient"),)


class Invite(Base):
    """A one-time code with which a patient activates their account (only its SHA-256 is kept)."""

    __tablename__ = "invite"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id", ondelete="CASCADE"), index=True)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    used_at: Mapped[datetime | None] = mapped_column(DateTime)


class WebSession(Base):
    """A signed-in dashboard session: the browser keeps a random token, the store its SHA-256,
    when it was last used (idle expiry) and when it ends at the latest."""

    __tablename__ = "web_session"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)


class AuditEvent(Base):
    """One line of the append-only audit log: who did what to whose record, when, and how it
    ended.  No foreign keys: the log outlives the users and patients it names (a deleted
    patient's pseudonym stays, never a name).  The database refuses UPDATE and DELETE on it."""

    __tablename__ = "audit_event"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime, index=True)
    actor: Mapped[str] = mapped_column(String(200))
    role: Mapped[str | None] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(64))
    patient: Mapped[str | None] = mapped_column(String(64), index=True)
    outcome: Mapped[str] = mapped_column(String(16))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class ExportRecord(Base):
    """The export register: every export, who made it, when, of which patients (pseudonyms in
    the store) with which filters, so a withdrawal can be passed on to whoever holds the data."""

    __tablename__ = "export_record"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime)
    actor: Mapped[str] = mapped_column(String(200))
    identified: Mapped[bool] = mapped_column(Boolean)
    study: Mapped[str | None] = mapped_column(String(64))
    patients: Mapped[list[Any]] = mapped_column(JSON)
    filters: Mapped[dict[str, Any]] = mapped_column(JSON)
    rows: Mapped[int] = mapped_column(Integer)
    fmt: Mapped[str] = mapped_column(String(16))


class Secret(Base):
    """A random key the store keeps for itself: the key that names stored files, and one key per
    study for keyed pseudonyms (HMAC-SHA-256).  Never exported."""

    __tablename__ = "secret"
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime)
