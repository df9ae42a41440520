"""IMAP poller with a broker: mailbox_records.received_at for UIDs queued for ingestion

Revision ID: 0006
Revises: 0002
Create Date: 2026-12-02 10:00:00
"""
from alembic import op
import sqlalchemy as sa
import storage.models


revision = '0006'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('mailbox_records', schema=None) as batch_op:
        batch_op.add_column(sa.Column('received_at', storage.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_mailbox_records_status', ['status', 'raw_sha256'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('mailbox_records', schema=None) as batch_op:
        batch_op.drop_index('ix_mailbox_records_status')
        batch_op.drop_column('received_at')
