"""Reliability: mailbox_records.reason (why a UID waits or was given up) and source_status

Revision ID: r16_mail_waiting
Revises: 0006
Create Date: 2026-12-05 10:00:00
"""
from alembic import op
import sqlalchemy as sa
import storage.models


revision = 'r16_mail_waiting'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('mailbox_records', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reason', sa.String(length=32), nullable=True))
    op.create_table('source_status',
    sa.Column('source', sa.String(length=200), nullable=False),
    sa.Column('last_poll_at', storage.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_ok_at', storage.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('fetched', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=32), nullable=True),
    sa.Column('problem', sa.Text(), nullable=True),
    sa.Column('updated_at', storage.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('source')
    )


def downgrade() -> None:
    op.drop_table('source_status')
    with op.batch_alter_table('mailbox_records', schema=None) as batch_op:
        batch_op.drop_column('reason')
