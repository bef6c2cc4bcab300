"""orphans: each workflow's last good source, kept sources and manifests, a non-unique key

- ``workflows`` gains ``source_hash``/``source_generation`` (its module's last good source) and
  ``orphaned_generation`` (the generation its imports resolve against once orphaned); existing
  rows whose file is live and parses take that file's hash and generation.
- ``kept_sources`` (sha256 -> content) and ``kept_manifests`` (generation -> python manifest):
  the code orphans still run.
- ``uq_workflows_path_function`` becomes the plain index ``ix_workflows_path_function``: a
  replaced orphan points at another function's (path, function name), whose row stays.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "kept_sources",
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("content_hash"),
    )
    op.create_table(
        "kept_manifests",
        sa.Column("generation", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("manifest", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("generation"),
    )
    with op.batch_alter_table("workflows", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("source_generation", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("orphaned_generation", sa.BigInteger(), nullable=True))
        batch_op.drop_constraint("uq_workflows_path_function", type_="unique")
        batch_op.create_index("ix_workflows_path_function", ["path", "function_name"], unique=False)
    files = sa.table(
        "workspace_files",
        sa.column("path", sa.String()),
        sa.column("content_hash", sa.String()),
        sa.column("generation", sa.BigInteger()),
        sa.column("diagnostics", sa.Text()),
        sa.column("is_deleted", sa.Boolean()),
    )
    workflows = sa.table(
        "workflows",
        sa.column("path", sa.String()),
        sa.column("source_hash", sa.String()),
        sa.column("source_generation", sa.BigInteger()),
    )
    good = sa.and_(
        files.c.path == workflows.c.path,
        files.c.is_deleted.is_(False),
        files.c.diagnostics.is_(None),
    )
    op.execute(
        workflows.update().values(
            source_hash=sa.select(files.c.content_hash).where(good).scalar_subquery(),
            source_generation=sa.select(files.c.generation).where(good).scalar_subquery(),
        )
    )


def downgrade() -> None:
    with op.batch_alter_table("workflows", schema=None) as batch_op:
        batch_op.drop_index("ix_workflows_path_function")
        batch_op.create_unique_constraint("uq_workflows_path_function", ["path", "function_name"])
        batch_op.drop_column("orphaned_generation")
        batch_op.drop_column("source_generation")
        batch_op.drop_column("source_hash")
    op.drop_table("kept_manifests")
    op.drop_table("kept_sources")
