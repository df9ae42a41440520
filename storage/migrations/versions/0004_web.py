"""web UI: users, sessions, sign-in attempts, search index (FTS5 on SQLite)

Revision ID: 0004
Revises: 0001
Create Date: 2026-11-30 10:00:00
"""
from alembic import op
import sqlalchemy as sa
import storage.models


revision = '0004'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('web_users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('password_hash', sa.String(length=200), nullable=False),
    sa.Column('created_at', storage.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.create_table('web_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', storage.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', storage.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['web_users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    op.create_index('ix_web_sessions_user_id', 'web_sessions', ['user_id'])
    op.create_table('web_login_attempts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('client', sa.String(length=64), nullable=False),
    sa.Column('ok', sa.Boolean(), nullable=False),
    sa.Column('created_at', storage.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_web_login_attempts_at', 'web_login_attempts', ['created_at'])
    op.create_table('search_docs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('message_pk', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['message_pk'], ['messages.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['item_id'], ['items.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_search_docs_message_pk', 'search_docs', ['message_pk'])
    op.create_index('ix_search_docs_item_id', 'search_docs', ['item_id'])
    dialect = op.get_bind().dialect.name
    if dialect == 'sqlite':
        # each Han character is inserted as its own token (storage/search.py)
        op.execute("CREATE VIRTUAL TABLE search_fts USING fts5(body, tokenize='unicode61')")
    elif dialect == 'postgresql':
        # pg_trgm makes ILIKE '%词%' use an index; without the extension it still works, slower
        op.execute("""
            DO $$ BEGIN
              CREATE EXTENSION IF NOT EXISTS pg_trgm;
              CREATE INDEX ix_search_docs_body_trgm ON search_docs USING gin (body gin_trgm_ops);
            EXCEPTION WHEN OTHERS THEN RAISE NOTICE 'pg_trgm unavailable: search uses a scan';
            END $$;
        """)


def downgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        op.execute("DROP TABLE IF EXISTS search_fts")
    op.drop_index('ix_search_docs_item_id', table_name='search_docs')
    op.drop_index('ix_search_docs_message_pk', table_name='search_docs')
    op.drop_table('search_docs')
    op.drop_index('ix_web_login_attempts_at', table_name='web_login_attempts')
    op.drop_table('web_login_attempts')
    op.drop_index('ix_web_sessions_user_id', table_name='web_sessions')
    op.drop_table('web_sessions')
    op.drop_table('web_users')
