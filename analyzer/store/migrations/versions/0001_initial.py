"""Initial schema: patient, treatment, photo, analysis, observation, symptom_entry, consent,
import_failure.

Revision ID: 0001_initial
Revises:
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None


def _id() -> sa.Column:
    return sa.Column("id", sa.Integer(), nullable=False)


def _patient_fk(table: str) -> list:
    return [
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=f"fk_{table}_patient_id_patient", ondelete="CASCADE"
        ),
    ]


def _index(table: str, column: str) -> None:
    op.create_index(f"ix_{table}_{column}", table, [column], unique=False)


def upgrade() -> None:
    op.create_table(
        "patient",
        _id(),
        sa.Column("pseudonym", sa.String(64), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_patient"),
        sa.UniqueConstraint("pseudonym", name="uq_patient_pseudonym"),
    )
    op.create_table(
        "treatment",
        _id(),
        *_patient_fk("treatment"),
        sa.Column("treated_at", sa.DateTime(), nullable=False),
        sa.Column("utc_offset_min", sa.Integer(), nullable=True),
        sa.Column("needle_depth_mm", sa.Float(), nullable=False),
        sa.Column("areas", sa.JSON(), nullable=False),
        sa.Column("protocol", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_treatment"),
        sa.UniqueConstraint("patient_id", "treated_at", name="uq_treatment_patient_time"),
    )
    _index("treatment", "patient_id")
    op.create_table(
        "photo",
        _id(),
        *_patient_fk("photo"),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("captured_at", sa.DateTime(), nullable=True),
        sa.Column("utc_offset_min", sa.Integer(), nullable=True),
        sa.Column("original_name", sa.String(500), nullable=False),
        sa.Column("stored_path", sa.String(200), nullable=False),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("imported_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_photo"),
        sa.UniqueConstraint("patient_id", "sha256", name="uq_photo_patient_sha256"),
    )
    _index("photo", "patient_id")
    op.create_table(
        "analysis",
        _id(),
        sa.Column("photo_id", sa.Integer(), nullable=False),
        sa.Column("analyzer_version", sa.String(32), nullable=False),
        sa.Column("analysed_at", sa.DateTime(), nullable=False),
        sa.Column("quality_ok", sa.Boolean(), nullable=False),
        sa.Column("quality_issues", sa.JSON(), nullable=False),
        sa.Column("calibration_method", sa.String(64), nullable=True),
        sa.Column("chart_found", sa.Boolean(), nullable=True),
        sa.Column("residual_delta_e00", sa.Float(), nullable=True),
        sa.Column("scale_px_per_mm", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["photo_id"], ["photo.id"], name="fk_analysis_photo_id_photo", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_analysis"),
        sa.UniqueConstraint("photo_id", "analyzer_version", name="uq_analysis_photo_version"),
    )
    _index("analysis", "photo_id")
    op.create_table(
        "observation",
        _id(),
        sa.Column("analysis_id", sa.Integer(), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("variable", sa.String(32), nullable=False),
        sa.Column("method", sa.String(64), nullable=False),
        sa.Column("unit", sa.String(32), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["analysis_id"], ["analysis.id"], name="fk_observation_analysis_id_analysis", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_observation"),
        sa.UniqueConstraint("analysis_id", "region", "variable", "method", name="uq_observation_key"),
    )
    _index("observation", "analysis_id")
    op.create_table(
        "symptom_entry",
        _id(),
        *_patient_fk("symptom_entry"),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("symptom", sa.String(32), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_symptom_entry"),
    )
    _index("symptom_entry", "patient_id")
    op.create_table(
        "consent",
        _id(),
        *_patient_fk("consent"),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("given_at", sa.DateTime(), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint("kind IN ('care', 'research')", name="ck_consent_kind"),
        sa.PrimaryKeyConstraint("id", name="pk_consent"),
    )
    _index("consent", "patient_id")
    op.create_table(
        "import_failure",
        _id(),
        *_patient_fk("import_failure"),
        sa.Column("source", sa.String(500), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("analyzer_version", sa.String(32), nullable=False),
        sa.Column("failed_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_import_failure"),
    )
    _index("import_failure", "patient_id")


def downgrade() -> None:
    for table in ("import_failure", "consent", "symptom_entry", "observation", "analysis", "photo", "treatment"):
        op.drop_table(table)
    op.drop_table("patient")
