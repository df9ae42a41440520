"""web UI accounts and sign-in limits: web_users.disabled and last_login_at, attempt indexes

Revision ID: 0004_web_accounts
Revises: 0004
Create Date: 2026-12-04 21:00:00
"""
from alembic import op
import sqlalchemy as sa
import storage.models


revision = '0004_web_accounts'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('web_users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('disabled', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('last_login_at', storage.models.UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table('web_login_attempts', schema=None) as batch_op:
        batch_op.create_index('ix_web_login_attempts_name_client', ['name', 'client', 'ok'], unique=False)
        batch_op.create_index('ix_web_login_attempts_client', ['client', 'ok'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('web_login_attempts', schema=None) as batch_op:
        batch_op.drop_index('ix_web_login_attempts_client')
        batch_op.drop_index('ix_web_login_attempts_name_client')
    with op.batch_alter_table('web_users', schema=None) as batch_op:
        batch_op.drop_column('last_login_at')
        batch_op.drop_column('disabled')
