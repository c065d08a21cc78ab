"""Integrations: Standard Webhooks secrets and options, webhook event types, API tokens

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 00:45:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('inbox_channels', schema=None) as batch_op:
        batch_op.add_column(sa.Column('thin', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('previous_secret', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('previous_secret_until', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('disabled_reason', sa.String(length=200), server_default='', nullable=False))
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('event', sa.String(length=32), server_default='lead.created', nullable=False))
    op.create_table('api_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('clinic_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('last_used_at', sa.DateTime(), nullable=True),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinics.id'], name=op.f('fk_api_tokens_clinic_id_clinics'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_api_tokens_created_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_api_tokens_token_hash'))
    )
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_tokens_clinic_id'), ['clinic_id'], unique=False)


def downgrade():
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_tokens_clinic_id'))
    op.drop_table('api_tokens')
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_column('event')
    with op.batch_alter_table('inbox_channels', schema=None) as batch_op:
        batch_op.drop_column('disabled_reason')
        batch_op.drop_column('previous_secret_until')
        batch_op.drop_column('previous_secret')
        batch_op.drop_column('thin')
