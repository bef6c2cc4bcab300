"""entities: forms, agents and apps as an index over their files; entity_refs; static imports

Rows for entity files already in the workspace, and the imports of .py files already there, are
written by ``Files.reindex`` (run by ``bifrost init`` after the migrations), or by the next unit
of work that writes the file.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("workspace_files", schema=None) as batch_op:
        batch_op.add_column(sa.Column("imports", sa.JSON(), nullable=True))
    op.create_table(
        "entities",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("path", sa.String(length=1000), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=True),
        sa.Column("invalid", sa.Text(), nullable=True),
        sa.Column("broken_refs", sa.JSON(), nullable=False),
        sa.Column("is_deleted", sa.Boolean(), nullable=False),
        sa.Column("generation", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("path", name="uq_entities_path"),
    )
    op.create_index("ix_entities_kind_path", "entities", ["kind", "path"], unique=False)
    op.create_table(
        "entity_refs",
        sa.Column("entity_id", sa.String(length=36), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("target", sa.String(length=1300), nullable=False),
        sa.Column("path", sa.String(length=1000), nullable=False),
        sa.Column("function_name", sa.String(length=255), nullable=False),
        sa.Column("workflow_id", sa.String(length=36), nullable=True),
        sa.ForeignKeyConstraint(["entity_id"], ["entities.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["workflow_id"], ["workflows.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("entity_id", "role", "target"),
    )
    op.create_index("ix_entity_refs_target", "entity_refs", ["path", "function_name"])
    op.create_index("ix_entity_refs_workflow", "entity_refs", ["workflow_id"])


def downgrade() -> None:
    op.drop_index("ix_entity_refs_workflow", table_name="entity_refs")
    op.drop_index("ix_entity_refs_target", table_name="entity_refs")
    op.drop_table("entity_refs")
    op.drop_index("ix_entities_kind_path", table_name="entities")
    op.drop_table("entities")
    with op.batch_alter_table("workspace_files", schema=None) as batch_op:
        batch_op.drop_column("imports")
