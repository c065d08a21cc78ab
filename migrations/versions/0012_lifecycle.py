"""Lead screening apart from the pipeline stage; delivery enqueue marks; failure alerts

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 00:55:00

A lead's "spam" status meant two things. It becomes a screening of its own:
held (caught by a trap, never delivered), or marked_spam (a person marked a
lead that had been delivered). Either way the pipeline stage goes back to new.
"""
from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.add_column(sa.Column('screening', sa.String(length=16), server_default='clear', nullable=False))
    op.create_index('ix_leads_clinic_screening_created', 'leads',
                    ['clinic_id', 'screening', 'created_at', 'id'], unique=False)
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('enqueued_at', sa.DateTime(), nullable=True))
    op.create_table('delivery_alerts',
    sa.Column('clinic_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=40), nullable=False),
    sa.Column('alerted_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinics.id'], name=op.f('fk_delivery_alerts_clinic_id_clinics'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('clinic_id', 'channel', name=op.f('pk_delivery_alerts'))
    )

    leads = sa.table('leads', sa.column('id', sa.Integer), sa.column('status', sa.String),
                     sa.column('screening', sa.String))
    deliveries = sa.table('deliveries', sa.column('lead_id', sa.Integer))
    events = sa.table('lead_events', sa.column('lead_id', sa.Integer), sa.column('kind', sa.String))
    delivered = sa.exists().where(deliveries.c.lead_id == leads.c.id)
    released = sa.exists().where(events.c.lead_id == leads.c.id, events.c.kind == 'released')
    op.execute(leads.update().where(leads.c.status == 'spam', delivered)
               .values(screening='marked_spam', status='new'))
    op.execute(leads.update().where(leads.c.status == 'spam')
               .values(screening='held', status='new'))
    op.execute(leads.update().where(leads.c.screening == 'clear', released)
               .values(screening='released'))


def downgrade():
    leads = sa.table('leads', sa.column('status', sa.String), sa.column('screening', sa.String))
    op.execute(leads.update().where(leads.c.screening.in_(('held', 'spam', 'marked_spam')))
               .values(status='spam'))
    op.drop_table('delivery_alerts')
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_column('enqueued_at')
    op.drop_index('ix_leads_clinic_screening_created', table_name='leads')
    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.drop_column('screening')
