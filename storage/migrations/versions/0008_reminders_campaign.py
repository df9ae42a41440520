"""Reminders per campaign: reminders.campaign_code, and once per campaign, unit, kind,
deadline and days before

Revision ID: c13_reminders
Revises: 0005
Create Date: 2026-12-05 10:00:00

Two open campaigns may both have a kind `summary` due the same day: the old unique
constraint would have let only one of them remind a unit. Existing rows keep a null
campaign until storage.campaigns.seed gives them config's campaign.
"""
from alembic import op
import sqlalchemy as sa


revision = 'c13_reminders'
down_revision = '0005'
branch_labels = None
depends_on = None

COLUMNS = ['campaign_code', 'unit_code', 'kind', 'due', 'days_before']


def upgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        # SQLite cannot drop a constraint: the table is copied; its unnamed constraint is
        # named by the convention so that it can be left out of the copy.
        with op.batch_alter_table(
            'reminders', recreate='always',
            naming_convention={'uq': 'uq_%(table_name)s_%(column_0_name)s'},
        ) as batch_op:
            batch_op.add_column(sa.Column('campaign_code', sa.String(length=64), nullable=True))
            batch_op.drop_constraint('uq_reminders_unit_code', type_='unique')
            batch_op.create_unique_constraint('uq_reminders_once', COLUMNS)
        return
    op.add_column('reminders', sa.Column('campaign_code', sa.String(length=64), nullable=True))
    op.drop_constraint('reminders_unit_code_kind_due_days_before_key', 'reminders', type_='unique')
    op.create_unique_constraint('uq_reminders_once', 'reminders', COLUMNS)


def downgrade() -> None:
    op.drop_constraint('uq_reminders_once', 'reminders', type_='unique')
    op.create_unique_constraint(
        'reminders_unit_code_kind_due_days_before_key', 'reminders', COLUMNS[1:]
    )
    op.drop_column('reminders', 'campaign_code')
