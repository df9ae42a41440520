"""Media derivative jobs: media_jobs

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-30 10:00:00
"""
from alembic import op
import sqlalchemy as sa
import storage.models


revision = '0003'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('media_jobs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('worker', sa.String(length=200), nullable=True),
    sa.Column('created_at', storage.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('started_at', storage.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('finished_at', storage.models.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['item_id'], ['items.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('item_id', 'kind')
    )
    op.create_index('ix_media_jobs_item_id', 'media_jobs', ['item_id'], unique=False)
    op.create_index('ix_media_jobs_queue', 'media_jobs', ['state', 'priority', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_media_jobs_queue', table_name='media_jobs')
    op.drop_index('ix_media_jobs_item_id', table_name='media_jobs')
    op.drop_table('media_jobs')
