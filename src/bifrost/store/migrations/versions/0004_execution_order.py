"""executions: index (created_at, id), the unique order /api/executions pages in

It replaces the index on created_at alone, which it covers as its leading column.

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("executions", schema=None) as batch_op:
        batch_op.create_index("ix_executions_created_at_id", ["created_at", "id"], unique=False)
        batch_op.drop_index("ix_executions_created_at")


def downgrade() -> None:
    with op.batch_alter_table("executions", schema=None) as batch_op:
        batch_op.create_index("ix_executions_created_at", ["created_at"], unique=False)
        batch_op.drop_index("ix_executions_created_at_id")
