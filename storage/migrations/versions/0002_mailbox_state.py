"""IMAP poller state: mailbox_records (what was taken from each folder) and leases

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 22:40:00
"""
from alembic import op
import sqlalchemy as sa
import storage.models


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('leases',
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('holder', sa.String(length=200), nullable=False),
    sa.Column('expires_at', storage.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_table('mailbox_records',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account', sa.String(length=200), nullable=False),
    sa.Column('folder', sa.String(length=500), nullable=False),
    sa.Column('uidvalidity', sa.BigInteger(), nullable=False),
    sa.Column('uid', sa.BigInteger(), nullable=False),
    sa.Column('message_pk', sa.Integer(), nullable=True),
    sa.Column('raw_sha256', sa.String(length=64), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('after_done', sa.Boolean(), nullable=False),
    sa.Column('created_at', storage.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', storage.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['message_pk'], ['messages.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('account', 'folder', 'uidvalidity', 'uid')
    )
    with op.batch_alter_table('mailbox_records', schema=None) as batch_op:
        batch_op.create_index('ix_mailbox_records_pending', ['account', 'folder', 'uidvalidity', 'after_done'], unique=False)
        batch_op.create_index(batch_op.f('ix_mailbox_records_message_pk'), ['message_pk'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('mailbox_records', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mailbox_records_message_pk'))
        batch_op.drop_index('ix_mailbox_records_pending')

    op.drop_table('mailbox_records')
    op.drop_table('leases')
