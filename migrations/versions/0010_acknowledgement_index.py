"""An index for the day's acknowledgements (at most one per address a day)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 01:00:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_deliveries_purpose_created', ['purpose', 'created_at'], unique=False)


def downgrade():
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_deliveries_purpose_created')
