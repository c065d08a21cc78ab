"""Inbox speed: counts per status and the overdue count from indexes alone, the
filters' known sources in one index, trigram indexes for the "contains" searches

Revision ID: 0015_inbox_search
Revises: 0014_media
Create Date: 2026-12-02 05:05:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0015_inbox_search'
down_revision = '0014_media'
branch_labels = None
depends_on = None

OVERDUE_WHERE = "status = 'new' AND first_contacted_at IS NULL AND anonymised_at IS NULL"
# PostgreSQL only: pg_trgm answers LIKE '%x%' (and 'x%') from a GIN index.
TRIGRAM = (
    ('ix_leads_name_trgm', 'lower(full_name)'),
    ('ix_leads_email_trgm', 'lower(email)'),
    ('ix_leads_phone_trgm', 'phone'),
)


def upgrade():
    op.create_index('ix_leads_clinic_screening_status', 'leads', ['clinic_id', 'screening', 'status', 'location_id', 'assigned_to_id'], unique=False)
    op.create_index('ix_leads_clinic_sources', 'leads', ['clinic_id', 'source', 'medium', 'utm_campaign'], unique=False)
    op.create_index(
        'ix_leads_clinic_overdue', 'leads', ['clinic_id', 'due_at', 'screening', 'location_id', 'assigned_to_id'], unique=False,
        postgresql_where=sa.text(OVERDUE_WHERE), sqlite_where=sa.text(OVERDUE_WHERE),
    )
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.execute('CREATE EXTENSION IF NOT EXISTS pg_trgm')
    for name, expression in TRIGRAM:
        op.execute(f'CREATE INDEX {name} ON leads USING gin ({expression} gin_trgm_ops)')


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        for name, _ in TRIGRAM:
            op.execute(f'DROP INDEX IF EXISTS {name}')
        # The extension stays: other databases objects may use it.
    op.drop_index('ix_leads_clinic_overdue', table_name='leads')
    op.drop_index('ix_leads_clinic_sources', table_name='leads')
    op.drop_index('ix_leads_clinic_screening_status', table_name='leads')
