"""lead inbox: indexes for status tabs, the all-clinics list and duplicates

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 23:46:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    # Plain CREATE INDEX works on SQLite and PostgreSQL alike: no table copy needed.
    op.create_index('ix_leads_clinic_status_created', 'leads',
                    ['clinic_id', 'status', 'created_at', 'id'], unique=False)
    op.create_index('ix_leads_created', 'leads', ['created_at', 'id'], unique=False)
    # Counts per status for one location (a filter, or a manager limited to it).
    op.create_index('ix_leads_clinic_location_status', 'leads',
                    ['clinic_id', 'location_id', 'status'], unique=False)
    op.create_index('ix_leads_clinic_phone', 'leads', ['clinic_id', 'phone'], unique=False)
    # An expression index: duplicates compare emails without regard to case.
    op.create_index('ix_leads_clinic_email_lower', 'leads',
                    ['clinic_id', sa.text('lower(email)')], unique=False)


def downgrade():
    op.drop_index('ix_leads_clinic_email_lower', table_name='leads')
    op.drop_index('ix_leads_clinic_phone', table_name='leads')
    op.drop_index('ix_leads_clinic_location_status', table_name='leads')
    op.drop_index('ix_leads_created', table_name='leads')
    op.drop_index('ix_leads_clinic_status_created', table_name='leads')
