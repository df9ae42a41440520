"""Campaigns as data: the campaigns table; each message's campaign decision, why it is
not material, and when an inquiry was answered

Revision ID: c13_campaigns
Revises: 0001
Create Date: 2026-12-05 09:00:00

Existing messages keep campaign_status null here; storage.campaigns.seed (run when the
index is opened, after migrating) files them under the campaign config seeds, whose code
a migration cannot know.
"""
from alembic import op
import sqlalchemy as sa
import storage.models


revision = 'c13_campaigns'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('campaigns',
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('spec', sa.JSON(), nullable=False),
    sa.Column('notice', sa.JSON(), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', storage.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', storage.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('code')
    )
    op.create_index(op.f('ix_campaigns_state'), 'campaigns', ['state'], unique=False)
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('campaign_code', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('campaign_status', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('campaign_confidence', sa.Float(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('not_material_reason', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('answered_at', storage.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('answered_by', sa.String(length=100), nullable=True))
        batch_op.create_index(batch_op.f('ix_messages_campaign_code'), ['campaign_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_messages_not_material_reason'), ['not_material_reason'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_messages_not_material_reason'))
        batch_op.drop_index(batch_op.f('ix_messages_campaign_code'))
        batch_op.drop_column('answered_by')
        batch_op.drop_column('answered_at')
        batch_op.drop_column('not_material_reason')
        batch_op.drop_column('campaign_confidence')
        batch_op.drop_column('campaign_status')
        batch_op.drop_column('campaign_code')
    op.drop_index(op.f('ix_campaigns_state'), table_name='campaigns')
    op.drop_table('campaigns')
