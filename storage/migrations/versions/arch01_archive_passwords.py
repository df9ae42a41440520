"""Archive passwords staff give in the web UI: archive_passwords

Revision ID: arch01
Revises: 0001
Create Date: 2026-12-04 12:00:00
"""
from alembic import op
import sqlalchemy as sa
import storage.models


revision = 'arch01'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('archive_passwords',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('password', sa.Text(), nullable=False),
    sa.Column('entered_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', storage.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['item_id'], ['items.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_archive_passwords_item_id', 'archive_passwords', ['item_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_archive_passwords_item_id', table_name='archive_passwords')
    op.drop_table('archive_passwords')
