"""Reports: lead source and medium, more click ids, response minutes, page views, ad conversions

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 01:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

LEAD_COLUMNS = (
    ('gbraid', 200),
    ('wbraid', 200),
    ('msclkid', 200),
    ('source', 100),
    ('medium', 100),
)


def upgrade():
    for name, length in LEAD_COLUMNS:
        op.add_column('leads', sa.Column(name, sa.String(length=length), server_default='', nullable=False))
    op.add_column('leads', sa.Column('response_minutes', sa.Integer(), nullable=True))
    op.create_index('ix_leads_clinic_source_created', 'leads', ['clinic_id', 'source', 'created_at'], unique=False)
    op.create_index('ix_lead_events_kind_created', 'lead_events', ['kind', 'created_at'], unique=False)
    op.create_index('ix_deliveries_created', 'deliveries', ['created_at'], unique=False)
    op.add_column('clinics', sa.Column('ads_conversions_enabled', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.add_column('clinics', sa.Column('ads_conversion_booked', sa.String(length=100), server_default='', nullable=False))
    op.add_column('clinics', sa.Column('ads_conversion_treated', sa.String(length=100), server_default='', nullable=False))
    op.create_table('page_views',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('page_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('views', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['page_id'], ['pages.id'], name=op.f('fk_page_views_page_id_pages'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_page_views')),
    sa.UniqueConstraint('page_id', 'day', name=op.f('uq_page_views_page_id'))
    )
    op.create_index(op.f('ix_page_views_day'), 'page_views', ['day'], unique=False)
    _backfill()


def downgrade():
    op.drop_index(op.f('ix_page_views_day'), table_name='page_views')
    op.drop_table('page_views')
    with op.batch_alter_table('clinics', schema=None) as batch_op:
        batch_op.drop_column('ads_conversion_treated')
        batch_op.drop_column('ads_conversion_booked')
        batch_op.drop_column('ads_conversions_enabled')
    op.drop_index('ix_deliveries_created', table_name='deliveries')
    op.drop_index('ix_lead_events_kind_created', table_name='lead_events')
    op.drop_index('ix_leads_clinic_source_created', table_name='leads')
    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.drop_column('response_minutes')
        for name, _ in reversed(LEAD_COLUMNS):
            batch_op.drop_column(name)


def _backfill():
    """Source and medium for the leads already stored, from their attribution;
    working minutes to first contact for those already contacted."""
    from leads.sources import classify
    from leads.working_time import working_minutes

    conn = op.get_bind()
    leads = sa.table(
        'leads', *(sa.column(n) for n in (
            'id', 'utm_source', 'utm_medium', 'gclid', 'fbclid', 'referrer', 'source', 'medium',
            'location_id', 'created_at', 'first_contacted_at', 'response_minutes',
        ))
    )
    locations = sa.table('locations', sa.column('id'), sa.column('opening_hours'), sa.column('time_zone'))
    hours = {
        row.id: (row.opening_hours, row.time_zone)
        for row in conn.execute(sa.select(locations.c.id, locations.c.opening_hours, locations.c.time_zone))
    }
    rows = conn.execute(sa.select(leads.c.id, leads.c.utm_source, leads.c.utm_medium, leads.c.gclid,
                                  leads.c.fbclid, leads.c.referrer, leads.c.location_id,
                                  leads.c.created_at, leads.c.first_contacted_at)).all()
    for row in rows:
        source, medium = classify(dict(row._mapping))
        values = {'source': source, 'medium': medium}
        if row.first_contacted_at is not None:
            opening, zone = hours.get(row.location_id, ([], 'UTC'))
            created, contacted = (_datetime(v) for v in (row.created_at, row.first_contacted_at))
            values['response_minutes'] = working_minutes(created, contacted, _json(opening), zone)
        conn.execute(leads.update().where(leads.c.id == row.id).values(**values))


def _json(value):
    import json

    return json.loads(value) if isinstance(value, str) else (value or [])


def _datetime(value):
    from datetime import datetime

    return datetime.fromisoformat(value) if isinstance(value, str) else value
