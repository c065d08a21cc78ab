"""Speed to lead: routing rules, response targets, escalation, digests, appointments

Revision ID: 0013_speed_to_lead
Revises: 0012
Create Date: 2026-12-02 04:10:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0013_speed_to_lead'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('clinics', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sla_minutes', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('escalate_to', sa.String(length=500), server_default='', nullable=False))
    with op.batch_alter_table('locations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('nation', sa.String(length=24), server_default='england', nullable=False))
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('digest_time', sa.String(length=5), server_default='', nullable=False))
        batch_op.add_column(sa.Column('digest_sent_on', sa.Date(), nullable=True))
    op.create_table('routing_rules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('clinic_id', sa.Integer(), nullable=False),
    sa.Column('location_id', sa.Integer(), nullable=True),
    sa.Column('treatment_id', sa.Integer(), nullable=True),
    sa.Column('channel_ids', sa.JSON(), server_default='[]', nullable=False),
    sa.Column('turn', sa.Integer(), server_default='0', nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinics.id'], name=op.f('fk_routing_rules_clinic_id_clinics'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['location_id'], ['locations.id'], name=op.f('fk_routing_rules_location_id_locations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['treatment_id'], ['treatments.id'], name=op.f('fk_routing_rules_treatment_id_treatments'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_routing_rules'))
    )
    op.create_index(op.f('ix_routing_rules_clinic_id'), 'routing_rules', ['clinic_id'], unique=False)
    op.create_table('routing_rule_members',
    sa.Column('rule_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['rule_id'], ['routing_rules.id'], name=op.f('fk_routing_rule_members_rule_id_routing_rules'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_routing_rule_members_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('rule_id', 'user_id', name=op.f('pk_routing_rule_members'))
    )
    # Plain ALTER TABLE ... ADD COLUMN, so SQLite keeps the table rather than
    # copying it (a copy would lose the expression index on lower(email)).
    op.add_column('leads', sa.Column('routing_rule_id', sa.Integer(), nullable=True))
    op.add_column('leads', sa.Column('due_at', sa.DateTime(), nullable=True))
    op.add_column('leads', sa.Column('escalated_at', sa.DateTime(), nullable=True))
    op.add_column('leads', sa.Column('appointment_at', sa.DateTime(), nullable=True))
    op.create_index('ix_leads_escalated_due', 'leads', ['escalated_at', 'due_at'], unique=False)


def downgrade():
    op.drop_index('ix_leads_escalated_due', table_name='leads')
    # Plain ALTER TABLE ... DROP COLUMN, as the upgrade added them: a copy of
    # the table on SQLite would lose the expression index on lower(email).
    for column in ('appointment_at', 'escalated_at', 'due_at', 'routing_rule_id'):
        op.drop_column('leads', column)
    op.drop_table('routing_rule_members')
    op.drop_index(op.f('ix_routing_rules_clinic_id'), table_name='routing_rules')
    op.drop_table('routing_rules')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('digest_sent_on')
        batch_op.drop_column('digest_time')
    with op.batch_alter_table('locations', schema=None) as batch_op:
        batch_op.drop_column('nation')
    with op.batch_alter_table('clinics', schema=None) as batch_op:
        batch_op.drop_column('escalate_to')
        batch_op.drop_column('sla_minutes')
