"""github_connection: GitHub App authentication beside personal tokens

``auth`` says which credential ``token_ciphertext`` seals: a personal token ("token") or a GitHub
App's private key ("app", with ``app_id`` and ``installation_id``). Existing rows are tokens.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("github_connection", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("auth", sa.String(length=16), nullable=False, server_default="token")
        )
        batch_op.add_column(sa.Column("app_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("installation_id", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("github_connection", schema=None) as batch_op:
        batch_op.drop_column("installation_id")
        batch_op.drop_column("app_id")
        batch_op.drop_column("auth")
